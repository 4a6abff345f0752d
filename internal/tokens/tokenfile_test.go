package tokens

import (
	"context"
	"errors"
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
