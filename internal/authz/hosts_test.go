package authz

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"extauthz/internal/secret"
)

// TestParseAuthority holds parseAuthority to the grammar in hosts.go: the
// valid forms split as written, and everything in invalidAuthorities is
// refused.
func TestParseAuthority(t *testing.T) {
	valid := map[string]authority{
		"api.anthropic.com":        {host: "api.anthropic.com"},
		"API.Anthropic.com:443":    {host: "API.Anthropic.com", port: "443"},
		"api.anthropic.com.":       {host: "api.anthropic.com."},
		"api.anthropic.com.:443":   {host: "api.anthropic.com.", port: "443"},
		"localhost:1":              {host: "localhost", port: "1"},
		"a_b-c.example:65535":      {host: "a_b-c.example", port: "65535"},
		"xn--bcher-kva.example":    {host: "xn--bcher-kva.example"},
		"123.example":              {host: "123.example"},
		"0xg.example":              {host: "0xg.example"},
		"example.0xg":              {host: "example.0xg"},
		"[::1]:8443":               {host: "::1", port: "8443", addr: netip.MustParseAddr("::1")},
		"[::1]":                    {host: "::1", addr: netip.MustParseAddr("::1")},
		"[2001:DB8::1]":            {host: "2001:DB8::1", addr: netip.MustParseAddr("2001:db8::1")},
		"[0:0:0:0:0:0:0:1]:443":    {host: "0:0:0:0:0:0:0:1", port: "443", addr: netip.MustParseAddr("::1")},
		"[::ffff:192.0.2.7]":       {host: "::ffff:192.0.2.7", addr: netip.MustParseAddr("::ffff:192.0.2.7")},
		"127.0.0.1:10000":          {host: "127.0.0.1", port: "10000", addr: netip.MustParseAddr("127.0.0.1")},
		"192.0.2.7":                {host: "192.0.2.7", addr: netip.MustParseAddr("192.0.2.7")},
		longLabel(63) + ".example": {host: longLabel(63) + ".example"},
		longName(253):              {host: longName(253)},
		longName(253) + ".:1":      {host: longName(253) + ".", port: "1"},
	}
	for in, want := range valid {
		got, ok := parseAuthority(in)
		if !ok || got != want {
			t.Errorf("parseAuthority(%q) = %+v, %v; want %+v, true", in, got, ok, want)
		}
	}
	for _, c := range invalidAuthorities {
		if got, ok := parseAuthority(c.authority); ok {
			t.Errorf("parseAuthority(%q) accepted it as %+v (%s)", c.authority, got, c.why)
		}
	}
}

// longLabel is a label of n bytes.
func longLabel(n int) string { return strings.Repeat("a", n) }

// longName is a name of exactly n bytes made of 63-byte labels.
func longName(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(longLabel(min(63, n-b.Len())))
	}
	return b.String()
}

func TestHostListAllows(t *testing.T) {
	l, err := newHostList([]string{" API.Anthropic.com ", "example.com.", "key.example", "::1", "[2001:db8::1]", "192.0.2.7", "::ffff:198.51.100.1"})
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"api.anthropic.com", "API.ANTHROPIC.COM:443", "example.com", "example.com.", "[::1]", "[0:0:0:0:0:0:0:1]:8443",
		"[2001:DB8::1]", "192.0.2.7", "192.0.2.7:443", "[::ffff:198.51.100.1]", "[::FFFF:C633:6401]"}
	for _, in := range allowed {
		a, ok := parseAuthority(in)
		if !ok || !l.allows(a) {
			t.Errorf("%q refused", in)
		}
	}
	refused := []string{"anthropic.com", "api.anthropic.com.evil", "[::2]", "192.0.2.8",
		// An address is its bits: IPv4-mapped is another address.
		"[::ffff:192.0.2.7]", "198.51.100.1",
		// A name is not the address it may resolve to, nor the reverse.
		"localhost", "[::ffff:key.example]"}
	for _, in := range refused {
		if a, ok := parseAuthority(in); ok && l.allows(a) {
			t.Errorf("%q allowed", in)
		}
	}
	// Unicode case folding would allow it: U+212A (Kelvin sign) folds to
	// "k". The grammar refuses it before any comparison, and the comparison
	// would too.
	if l.allows(authority{host: "\u212aey.example"}) {
		t.Error("a Unicode look-alike of key.example is allowed")
	}
	if !(hostList{}).empty() || l.empty() {
		t.Error("empty() is wrong")
	}
}

func TestNewServerRejectsBadOptions(t *testing.T) {
	bad := []string{"", " ", "https://api.anthropic.com", "api.anthropic.com:443", "*.anthropic.com",
		"api.anthropic.com/v1", "a..b", "[::1]:443", strings.Repeat("a", 64) + ".com",
		// Nothing a request's authority can match: a zone, IPv4 in
		// brackets, a name ending in a number, an IPv4 address in another
		// notation.
		"fe80::1%eth0", "[fe80::1%25eth0]", "[192.0.2.7]", "example.123", "0177.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "127.0.0.1."}
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
