package authz

import (
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

// FuzzAuthority holds the EXTAUTHZ_ALLOWED_HOSTS check to its grammar, for
// an authority, an allow-list entry and where the request carries the
// authority:
//   - parseAuthority accepts exactly what grammarAccepts (a second reading
//     of the grammar, with regular expressions) accepts;
//   - an accepted authority is host[:port] byte for byte, and net/url reads
//     the same host and port in it and no userinfo;
//   - hostList.match, which the server calls, agrees with parseAuthority
//     and allows;
//   - the allow decision is "lower-case host without its trailing dot
//     equals the entry, byte for byte" for a name, and "the same address"
//     for an IP literal (an IPv4 literal then also equals the entry byte
//     for byte);
//   - through Check and the fast path, the answer is the same bytes, OK
//     exactly when that decision allows, else a 403.
//
// testdata/fuzz/FuzzAuthority holds issue 7's authorities as seeds.
func FuzzAuthority(f *testing.F) {
	for _, a := range validAuthorities {
		f.Add(a, "api.anthropic.com", uint8(0))
	}
	f.Add("x_y-z.example.:65535", " X_Y-Z.example. ", uint8(1))
	f.Add("[::ffff:192.0.2.7]:443", "192.0.2.7", uint8(2))
	f.Add("[::FFFF:C000:207]", "::ffff:192.0.2.7", uint8(3))
	for i, c := range invalidAuthorities {
		f.Add(c.authority, authorityHosts[i%len(authorityHosts)], uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw, entry string, where uint8) {
		a, ok := parseAuthority(raw)
		if want := grammarAccepts(raw); ok != want {
			t.Fatalf("parseAuthority(%q) accepts: %v, the grammar: %v", raw, ok, want)
		}
		if ok {
			checkAccepted(t, raw, a)
		}

		l, errs := newHostList([]string{entry})
		if len(errs) != 0 {
			entry = "api.anthropic.com"
			l, _ = newHostList([]string{entry})
		}
		entry = strings.TrimSpace(entry)
		want := false
		if ok {
			want = allowedBy(t, a, entry)
		}
		if got := ok && l.allows(a); got != want {
			t.Fatalf("%q against entry %q: allows %v, want %v", raw, entry, got, want)
		}
		if name, mok, mallowed := l.match(raw); mok != ok || mallowed != want || ok && name != a.name() {
			t.Fatalf("%q against entry %q: match gives %q, %v, %v; parseAuthority and allows %+v, %v, %v", raw, entry, name, mok, mallowed, a, ok, want)
		}

		s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: []string{entry}, Logger: quietLogger()})
		place := int(where % 4)
		if !utf8.ValidString(raw) {
			place = 2 // only header_map's raw_value carries bytes that are not UTF-8
		}
		resp := bothPaths(t, s, authorityRequest(raw, place))
		if code := codes.Code(resp.GetStatus().GetCode()); want && code != codes.OK || !want && code != codes.PermissionDenied {
			t.Fatalf("%q against entry %q: status %v, want allowed=%v", raw, entry, code, want)
		}
	})
}

// checkAccepted checks an authority parseAuthority accepted as a.
func checkAccepted(t *testing.T, raw string, a authority) {
	t.Helper()
	rebuilt := a.host
	if a.addr.Is6() {
		rebuilt = "[" + rebuilt + "]"
	}
	if a.port != "" {
		rebuilt += ":" + a.port
	}
	if rebuilt != raw {
		t.Fatalf("%q is accepted as %q", raw, rebuilt)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; nameClass[c] == notInName && !strings.ContainsRune(":[]", rune(c)) {
			t.Fatalf("%q is accepted with the byte %q", raw, c)
		}
	}
	u, err := url.Parse("http://" + raw + "/")
	if err != nil {
		t.Fatalf("%q is accepted, but net/url refuses it: %v", raw, err)
	}
	if u.User != nil || u.Host != raw || u.Hostname() != a.host || u.Port() != a.port {
		t.Fatalf("%q is accepted as host %q port %q, net/url reads user %v host %q port %q",
			raw, a.host, a.port, u.User != nil, u.Hostname(), u.Port())
	}
}

// allowedBy is the allow decision for an accepted authority a and a valid
// entry (trimmed), stated without hostList.
func allowedBy(t *testing.T, a authority, entry string) bool {
	t.Helper()
	if a.addr.IsValid() {
		e, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(entry, "["), "]"))
		if err != nil || e != a.addr {
			return false
		}
		if a.addr.Is4() && a.host != entry {
			t.Fatalf("IPv4 %q equals entry %q as an address, not as text", a.host, entry)
		}
		return true
	}
	return strings.ToLower(a.name()) == strings.ToLower(strings.TrimSuffix(entry, "."))
}

// The grammar of hosts.go, read a second way.
var (
	nameRE   = regexp.MustCompile(`^([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$`)
	numberRE = regexp.MustCompile(`^([0-9]+|0[xX][0-9A-Fa-f]*)$`)
	octetRE  = `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])`
	ipv4RE   = regexp.MustCompile(`^` + octetRE + `(\.` + octetRE + `){3}$`)
	splitRE  = regexp.MustCompile(`^(\[[^\]]*\]|[^\[\]:]*)(:[1-9][0-9]{0,4})?$`)
)

// grammarAccepts reports whether s is an authority by the grammar of
// hosts.go.
func grammarAccepts(s string) bool {
	m := splitRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	host, port := m[1], strings.TrimPrefix(m[2], ":")
	if n, err := strconv.Atoi(port); port != "" && (err != nil || n > 65535) {
		return false
	}
	if strings.HasPrefix(host, "[") {
		inner := host[1 : len(host)-1]
		a, err := netip.ParseAddr(inner)
		return err == nil && a.Is6() && a.Zone() == "" && !strings.Contains(inner, "%")
	}
	if ipv4RE.MatchString(host) {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	return nameRE.MatchString(host) && len(strings.TrimSuffix(host, ".")) <= 253 && !numberRE.MatchString(labels[len(labels)-1])
}
