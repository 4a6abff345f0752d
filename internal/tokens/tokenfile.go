package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"extauthz/internal/secret"
)

const (
	sourceTokenFile = "token-file"
	// maxTokenFileBytes caps one read of the token file. A JWT the token
	// endpoint accepts is at most 16 KiB; the rest is room for whitespace.
	maxTokenFileBytes = 64 << 10
)

// TokenFile reads the identity token from a file at every call, as the
// kubelet rotates projected service-account tokens in place. The content is
// trimmed; it is never cached, and the file is never modified or deleted.
//
// Anthropic accepts each JWT's jti once, and the kubelet rewrites the file
// only at 80 % of its life, so a refresh can come before the rotation. The
// file source remembers the hash of the last JWT the token endpoint answered
// (Spent) and, while the file still holds that JWT and it carries a jti,
// returns ErrIdentityTokenNotRotated — a recoverable error, so the refresher
// backs off and keeps serving the current token instead of collecting a 401
// for a replay.
type TokenFile struct {
	path  string
	spent atomic.Pointer[[sha256.Size]byte]
}

var _ IdentitySource = (*TokenFile)(nil)

// NewTokenFile returns a source for path. The file need not exist yet: each
// call reads it afresh.
func NewTokenFile(path string) *TokenFile { return &TokenFile{path: path} }

// IdentityToken reads and trims the file. A missing or unreadable file, an
// empty one (ErrEmptyIdentityToken) and one over 64 KiB
// (ErrIdentityTokenTooLarge) are *IdentityError.
func (f *TokenFile) IdentityToken(ctx context.Context) (secret.Value, error) {
	if err := ctx.Err(); err != nil {
		return secret.Value{}, f.fail(err)
	}
	file, err := os.Open(f.path)
	if err != nil {
		return secret.Value{}, f.fail(err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxTokenFileBytes+1))
	if err != nil {
		return secret.Value{}, f.fail(fmt.Errorf("reading %s: %w", f.path, err))
	}
	if len(data) > maxTokenFileBytes {
		return secret.Value{}, f.fail(fmt.Errorf("%w: %s is over %d bytes", ErrIdentityTokenTooLarge, f.path, maxTokenFileBytes))
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return secret.Value{}, f.fail(fmt.Errorf("%w: %s", ErrEmptyIdentityToken, f.path))
	}
	jwt := secret.New(string(data))
	if p := f.spent.Load(); p != nil && *p == sha256.Sum256(data) {
		if c, err := ReadClaims(jwt); err == nil && c.ID != "" {
			return secret.Value{}, f.fail(fmt.Errorf("%w: %s", ErrIdentityTokenNotRotated, f.path))
		}
	}
	return jwt, nil
}

// Spent records that the token endpoint has seen jwt.
func (f *TokenFile) Spent(jwt secret.Value) {
	sum := sha256.Sum256([]byte(jwt.Reveal()))
	f.spent.Store(&sum)
}

func (f *TokenFile) fail(err error) error {
	return &IdentityError{Source: sourceTokenFile, Err: err}
}
