package tokens

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenFileRereadsEveryCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	src := NewTokenFile(path)
	first, second := numberedJWT(1), numberedJWT(2)
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("  " + first + "\n")
	got, err := src.IdentityToken(context.Background())
	if err != nil || got.Reveal() != first {
		t.Fatalf("first read: %v (trimmed value matches: %v)", err, got.Reveal() == first)
	}
	write(second + "\r\n")
	got, err = src.IdentityToken(context.Background())
	if err != nil || got.Reveal() != second {
		t.Fatalf("after rewrite: %v (new value returned: %v)", err, got.Reveal() == second)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != second+"\r\n" {
		t.Errorf("the token file was changed or removed: %v", err)
	}
}

func TestTokenFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		content *string
		want    error
		recover bool
	}{
		{"missing", nil, fs.ErrNotExist, true},
		{"empty", ptr(""), ErrEmptyIdentityToken, true},
		{"whitespace only", ptr(" \n\t\n"), ErrEmptyIdentityToken, true},
		{"oversize", ptr(strings.Repeat("a", maxTokenFileBytes+1)), ErrIdentityTokenTooLarge, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			if c.content != nil {
				if err := os.WriteFile(path, []byte(*c.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := NewTokenFile(path).IdentityToken(context.Background())
			var ie *IdentityError
			if !errors.Is(err, c.want) || !errors.As(err, &ie) || ie.Source != "token-file" {
				t.Fatalf("error %v, want a token-file IdentityError wrapping %v", err, c.want)
			}
			if Recoverable(err) != c.recover {
				t.Errorf("Recoverable = %v, want %v", Recoverable(err), c.recover)
			}
			if c.content != nil {
				if _, err := os.Stat(path); err != nil {
					t.Errorf("the token file is gone after a failed read: %v", err)
				}
			}
		})
	}
}

func TestTokenFileAtTheCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(strings.Repeat("a", maxTokenFileBytes)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewTokenFile(path).IdentityToken(context.Background()); err != nil {
		t.Errorf("file of exactly the cap: %v", err)
	}
}

func TestTokenFileCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewTokenFile(filepath.Join(t.TempDir(), "x")).IdentityToken(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func ptr(s string) *string { return &s }

// TestTokenFileRefusesASpentJWT: once the token endpoint has seen the file's
// JWT (Spent), reading the unchanged file gives the recoverable
// ErrIdentityTokenNotRotated instead of a JWT whose jti would be a replay;
// a rotated file, or a JWT without jti, is returned as usual.
func TestTokenFileRefusesASpentJWT(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	src := NewTokenFile(path)
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(numberedJWT(1))
	jwt, err := src.IdentityToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.IdentityToken(context.Background()); err != nil {
		t.Fatalf("a JWT the endpoint has not seen was refused: %v", err)
	}
	src.Spent(jwt)
	_, err = src.IdentityToken(context.Background())
	if !errors.Is(err, ErrIdentityTokenNotRotated) || !Recoverable(err) {
		t.Fatalf("spent JWT: err %v (recoverable %v), want recoverable ErrIdentityTokenNotRotated", err, Recoverable(err))
	}
	write(numberedJWT(2))
	if got, err := src.IdentityToken(context.Background()); err != nil || got.Reveal() != numberedJWT(2) {
		t.Fatalf("after rotation: %v", err)
	}

	noJTI := testJWT(map[string]any{"iss": "https://issuer.example", "sub": "s", "iat": 946684800, "exp": 946688400})
	write(noJTI)
	v, err := src.IdentityToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	src.Spent(v)
	if _, err := src.IdentityToken(context.Background()); err != nil {
		t.Errorf("a JWT without jti may be presented again, got %v", err)
	}
}

func TestReachedEndpoint(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{fmt.Errorf("token exchange: %w", &ExchangeError{StatusCode: 401}), true},
		{fmt.Errorf("token exchange: %w", ErrMalformedResponse), true},
		{fmt.Errorf("token exchange: %w", ErrResponseTooLarge), true},
		{fmt.Errorf("token exchange: %w", context.DeadlineExceeded), false},
		{fmt.Errorf("token exchange: %w", ErrAssertionTooLarge), false},
		{errors.New("dial tcp: connection refused"), false},
	} {
		if got := reachedEndpoint(c.err); got != c.want {
			t.Errorf("reachedEndpoint(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
