package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// es256 is the only JWS algorithm the emulator signs with.
const es256 = "ES256"

// signingKey is a P-256 key that signs JWTs as ES256 (RFC 7518 §3.4: the
// signature is r||s, each left-padded to 32 bytes).
type signingKey struct {
	priv *ecdsa.PrivateKey
	kid  string // RFC 7638 thumbprint of the public JWK
	jwk  jwk
}

// jwk is a public EC key as published in the JWKS (RFC 7517, RFC 7518 §6.2).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// jwsHeader is the protected header of a compact JWS.
type jwsHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

func newSigningKey() (*signingKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("emulator: generate signing key: %w", err)
	}
	point, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("emulator: encode public key: %w", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	k := &signingKey{priv: priv, jwk: jwk{
		Kty: "EC", Crv: "P-256", X: b64(point[1:33]), Y: b64(point[33:65]),
		Alg: es256, Use: "sig",
	}}
	// RFC 7638: SHA-256 over the required members in lexicographic order.
	thumb := sha256.Sum256(fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, k.jwk.X, k.jwk.Y))
	k.kid = b64(thumb[:])
	k.jwk.Kid = k.kid
	return k, nil
}

// mint signs claims as a JWT with header {alg ES256, typ JWT, kid}.
func (k *signingKey) mint(claims any) (string, error) {
	return k.signCompact(jwsHeader{Alg: es256, Typ: "JWT", Kid: k.kid}, claims)
}

// signCompact serializes header and claims and appends an ES256 signature,
// whatever the header says (tests use that to forge headers).
func (k *signingKey) signCompact(header, claims any) (string, error) {
	input, err := signingInput(header, claims)
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("emulator: sign JWT: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// verify reports whether sig is this key's ES256 signature over input.
func (k *signingKey) verify(input string, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	digest := sha256.Sum256([]byte(input))
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(&k.priv.PublicKey, digest[:], r, s)
}

// signingInput is BASE64URL(header) "." BASE64URL(claims) (RFC 7515 §7.1).
func signingInput(header, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("emulator: encode JWT header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("emulator: encode JWT claims: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c), nil
}
