package authz

import (
	"errors"
	"strings"
	"testing"

	"extauthz/internal/secret"
)

func TestHostOf(t *testing.T) {
	cases := map[string]string{
		"":                       "",
		"api.anthropic.com":      "api.anthropic.com",
		"API.Anthropic.com:443":  "API.Anthropic.com",
		"api.anthropic.com.":     "api.anthropic.com",
		"api.anthropic.com.:443": "api.anthropic.com",
		"host:":                  "host",
		"10.0.0.1:8080":          "10.0.0.1",
		"[::1]:443":              "::1",
		"[::1]":                  "::1",
		"::1":                    "::1",
		"fe80::1%eth0":           "fe80::1%eth0",
		"[::1":                   "[::1",
	}
	for in, want := range cases {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostListAllows(t *testing.T) {
	l, err := newHostList([]string{" API.Anthropic.com ", "example.com.", "key.example", "::1", "[2001:db8::1]", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"api.anthropic.com", "API.ANTHROPIC.COM", "example.com", "::1", "0:0:0:0:0:0:0:1",
		"2001:DB8::1", "192.0.2.7", "::ffff:192.0.2.7"}
	for _, h := range allowed {
		if !l.allows(h) {
			t.Errorf("%q refused", h)
		}
	}
	refused := []string{"", "anthropic.com", "api.anthropic.com.evil", "evil@api.anthropic.com", "::2", "192.0.2.8", "[::1",
		// Unicode case folding would allow it: U+212A (Kelvin sign) folds to "k".
		"\u212aey.example"}
	for _, h := range refused {
		if l.allows(h) {
			t.Errorf("%q allowed", h)
		}
	}
	if !(hostList{}).empty() || l.empty() {
		t.Error("empty() is wrong")
	}
}

func TestNewServerRejectsBadOptions(t *testing.T) {
	bad := []string{"", " ", "https://api.anthropic.com", "api.anthropic.com:443", "*.anthropic.com",
		"api.anthropic.com/v1", "a..b", "[::1]:443", strings.Repeat("a", 64) + ".com"}
	_, err := NewServer(Options{Credentials: single(Mode(9), nil), AllowedHosts: append([]string{"fine.example"}, bad...)})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("err does not list its problems: %v", err)
	}
	// mode, credentials, then one per bad host entry
	if got, want := len(joined.Unwrap()), 2+len(bad); got != want {
		t.Errorf("%d problems reported, want %d:\n%v", got, want, err)
	}
	for _, e := range joined.Unwrap() {
		if !errors.Is(e, ErrInvalidOptions) {
			t.Errorf("problem %v does not wrap ErrInvalidOptions", e)
		}
	}
}

func TestNewServerDefaults(t *testing.T) {
	s, err := NewServer(Options{Credentials: single(ModeStaticKey, StaticKey(secret.New(testKey)))})
	if err != nil {
		t.Fatal(err)
	}
	if s.log == nil || !s.hosts.empty() || s.observer != nil {
		t.Errorf("defaults not applied: %+v", s.hosts)
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{ModeWIF: "wif", ModeStaticKey: "static-key", 0: "Mode(0)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
}
