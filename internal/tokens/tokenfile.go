package tokens

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

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
type TokenFile struct {
	path string
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
	return secret.New(string(data)), nil
}

func (f *TokenFile) fail(err error) error {
	return &IdentityError{Source: sourceTokenFile, Err: err}
}
