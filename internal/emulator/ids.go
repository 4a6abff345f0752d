package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// randomID is 128 random bits as 26 base32 characters, for tagged IDs
// (fdrl_…, svac_…) and request IDs.
func randomID() string { return rand.Text() }

// randomToken is 256 random bits, base64url: the body of a credential.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomUUID is a version 4 UUID, the shape of an organization ID and of
// GitHub's jti.
func randomUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
