package callerauth

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAllowListRefusesMalformedEntries(t *testing.T) {
	bad := map[string]string{
		"SPIFFE://td/x":                            `"spiffe://" (lower-case)`,
		"spiffe:td/x":                              `"spiffe://"`,
		"spiffe://":                                "no trust domain",
		"spiffe:///x":                              "no trust domain",
		"spiffe://TD/x":                            "lower-case",
		"spiffe://td:443/x":                        "port",
		"spiffe://user@td/x":                       "userinfo",
		"spiffe://td/x?y=1":                        "query",
		"spiffe://td/x#f":                          "fragment",
		"spiffe://td/x/":                           "empty path segment",
		"spiffe://td//x":                           "empty path segment",
		"spiffe://td/a/./b":                        `"." or ".."`,
		"spiffe://td/a/..":                         `"." or ".."`,
		"spiffe://td/a%2Fb":                        "percent-encoding",
		"spiffe://td/a b":                          `' '`,
		"spiffe://td/ns/*/sa":                      `only a final "/*"`,
		"spiffe://td/ns/a*":                        `only a final "/*"`,
		"spiffe://td/*/*":                          `only a final "/*"`,
		"spiffe://td/é":                            "non-ASCII",
		"spiffe://" + strings.Repeat("a", 256):     "255",
		"spiffe://td/" + strings.Repeat("a", 2048): "2048",
		"dns:":                           "no name",
		"dns:*.example.com":              "wildcards",
		"dns:example.com.":               "trailing dot",
		"dns:a..b":                       "empty label",
		"dns:-a.example":                 "'-'",
		"dns:a_b.example":                `'_'`,
		"dns:" + strings.Repeat("a", 64): "63",
		"uid:":                           "no number",
		"uid:-1":                         "decimal",
		"uid:+1":                         "decimal",
		"uid:0x10":                       "decimal",
		"uid:0755":                       "leading zero",
		"uid:4294967295":                 "4294967294",
		"gid:99999999999999999999":       "4294967294",
		"gid: 1":                         "decimal",
		"user:1000":                      "not a caller",
		"envoy":                          "not a caller",
		"https://td/x":                   "not a caller",
	}
	for entry, want := range bad {
		_, err := ParseAllowList([]string{"uid:1", " " + entry + " "})
		var ee *EntryError
		if !errors.As(err, &ee) {
			t.Errorf("%q: error %v, want an *EntryError", entry, err)
			continue
		}
		if ee.Entry != strings.TrimSpace(entry) || !strings.Contains(ee.Reason, want) {
			t.Errorf("%q: got entry %q reason %q, want the entry and a reason with %q", entry, ee.Entry, ee.Reason, want)
		}
	}
}

func TestParseAllowListReportsEveryBadEntry(t *testing.T) {
	_, err := ParseAllowList([]string{"uid:x", "dns:ok.example", "gid:", "spiffe://TD"})
	text := err.Error()
	for _, e := range []string{`"uid:x"`, `"gid:"`, `"spiffe://TD"`} {
		if !strings.Contains(text, e) {
			t.Errorf("error lacks %s: %v", e, err)
		}
	}
	if strings.Contains(text, "ok.example") {
		t.Errorf("a good entry is named: %v", err)
	}
}

func TestParseAllowListBlankLists(t *testing.T) {
	if l, err := ParseAllowList(nil); err != nil || !l.Empty() {
		t.Errorf("nil: %v, %v", l, err)
	}
	if _, err := ParseAllowList([]string{" ", ""}); !errors.Is(err, ErrNoCallers) {
		t.Errorf("only blanks: %v, want ErrNoCallers", err)
	}
	l, err := ParseAllowList([]string{" uid:1 ", "", "dns:Envoy.Example", "uid:1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != "uid:1,dns:envoy.example" {
		t.Errorf("String %q", got)
	}
}

func TestAllowListKinds(t *testing.T) {
	cases := []struct {
		entries   []string
		san, cred bool
	}{
		{nil, false, false},
		{[]string{"uid:0"}, false, true},
		{[]string{"gid:4294967294"}, false, true},
		{[]string{"dns:envoy"}, true, false},
		{[]string{"spiffe://td/*"}, true, false},
		{[]string{"spiffe://td", "uid:1"}, true, true},
	}
	for _, c := range cases {
		l, err := ParseAllowList(c.entries)
		if err != nil {
			t.Fatal(err)
		}
		if l.HasSANEntries() != c.san || l.HasPeerCredEntries() != c.cred {
			t.Errorf("%q: SAN %v, cred %v; want %v, %v", c.entries, l.HasSANEntries(), l.HasPeerCredEntries(), c.san, c.cred)
		}
	}
	var nilList *AllowList
	if !nilList.Empty() || nilList.HasSANEntries() || nilList.HasPeerCredEntries() || !nilList.Allows(&Caller{}) {
		t.Error("a nil list must be empty and allow everyone")
	}
}

func TestAllowListMatching(t *testing.T) {
	l, err := ParseAllowList([]string{
		"spiffe://cluster.local/ns/egress/sa/envoy",
		"spiffe://td/ns/a/*",
		"spiffe://other.td/*",
		"dns:envoy.egress.svc",
		"uid:101",
		"gid:2000",
	})
	if err != nil {
		t.Fatal(err)
	}
	uri := func(u ...string) *Caller { return &Caller{TLS: true, URIs: u} }
	cases := []struct {
		name   string
		caller *Caller
		want   bool
	}{
		{"exact SPIFFE ID", uri("spiffe://cluster.local/ns/egress/sa/envoy"), true},
		{"another SA", uri("spiffe://cluster.local/ns/egress/sa/workload"), false},
		{"exact ID plus a segment", uri("spiffe://cluster.local/ns/egress/sa/envoy/x"), false},
		{"path case matters", uri("spiffe://cluster.local/ns/egress/sa/Envoy"), false},
		{"below the prefix", uri("spiffe://td/ns/a/x"), true},
		{"deep below the prefix", uri("spiffe://td/ns/a/x/y"), true},
		{"the prefix itself", uri("spiffe://td/ns/a"), false},
		{"a sibling sharing the letters", uri("spiffe://td/ns/ab"), false},
		{"a dot-dot escape", uri("spiffe://td/ns/a/../b"), false},
		{"an empty segment", uri("spiffe://td/ns/a//x"), false},
		{"a trailing slash", uri("spiffe://td/ns/a/"), false},
		{"another trust domain", uri("spiffe://td2/ns/a/x"), false},
		{"trust domain upper-case", uri("spiffe://TD/ns/a/x"), false},
		{"a whole trust domain", uri("spiffe://other.td/anything"), true},
		{"the trust domain alone", uri("spiffe://other.td"), false},
		{"second URI SAN matches", uri("https://example.com/x", "spiffe://td/ns/a/x"), true},
		{"DNS SAN", &Caller{TLS: true, DNSNames: []string{"ENVOY.egress.svc"}}, true},
		{"DNS SAN suffix", &Caller{TLS: true, DNSNames: []string{"x.envoy.egress.svc"}}, false},
		{"DNS SAN wildcard", &Caller{TLS: true, DNSNames: []string{"*.egress.svc"}}, false},
		{"uid", &Caller{Peer: &PeerCred{UID: 101, GID: 5}}, true},
		{"gid", &Caller{Peer: &PeerCred{UID: 1000, GID: 2000}}, true},
		{"neither", &Caller{Peer: &PeerCred{UID: 1000, GID: 1000}}, false},
		{"no peer credentials", &Caller{Remote: "127.0.0.1:5"}, false},
		{"TLS without a verified certificate", &Caller{TLS: true}, false},
	}
	for _, c := range cases {
		if got := l.Allows(c.caller); got != c.want {
			t.Errorf("%s: Allows = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSPIFFEIDValid(t *testing.T) {
	for _, id := range []string{
		"spiffe://td",
		"spiffe://cluster.local/ns/default/sa/envoy",
		"spiffe://a-b_c.9/A.b-C_9/x",
		"spiffe://td/" + strings.Repeat("a", 2048-len("spiffe://td/")),
	} {
		if p := spiffeIDProblem(id); p != "" {
			t.Errorf("%q: %s", id, p)
		}
	}
}

// FuzzParseAllowList: no input panics, every error names its entry, and an
// accepted SPIFFE entry matches the ID it names (or the IDs below it).
func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"spiffe://td/a", "spiffe://td/a/*", "dns:x.example", "uid:1", "gid:0", "spiffe://td/a/../b", "dns:*", "uid:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		l, err := ParseAllowList([]string{entry})
		if err != nil {
			var ee *EntryError
			if errors.As(err, &ee) && ee.Entry != strings.TrimSpace(entry) {
				t.Fatalf("error names %q, not the entry", ee.Entry)
			}
			return
		}
		e := strings.TrimSpace(entry)
		if base, ok := strings.CutSuffix(e, "/*"); ok {
			if !l.Allows(&Caller{URIs: []string{base + "/x"}}) || l.Allows(&Caller{URIs: []string{base}}) {
				t.Fatalf("%q: prefix entry matched wrongly", e)
			}
		} else if strings.HasPrefix(e, "spiffe://") && !l.Allows(&Caller{URIs: []string{e}}) {
			t.Fatalf("%q does not match itself", e)
		}
	})
}
