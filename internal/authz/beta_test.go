package authz

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMergeBeta(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want string
	}{
		{"no client betas", nil, "oauth-2025-04-20"},
		{"empty value", []string{""}, "oauth-2025-04-20"},
		{"only commas and blanks", []string{" , ,\t,"}, "oauth-2025-04-20"},
		{"client first, oauth last", []string{"b,a"}, "b,a,oauth-2025-04-20"},
		{"trimmed, no spaces", []string{"  a ,\tb\t"}, "a,b,oauth-2025-04-20"},
		{"duplicates keep first place", []string{"a,b,a", "b,c"}, "a,b,c,oauth-2025-04-20"},
		{"oauth kept where the client put it", []string{"a,oauth-2025-04-20,b"}, "a,oauth-2025-04-20,b"},
		{"federation flag dropped", []string{"oidc-federation-2026-04-01,a"}, "a,oauth-2025-04-20"},
		{"federation flag dropped in any case", []string{"OIDC-Federation-2026-04-01"}, "oauth-2025-04-20"},
		{"several values", []string{"a", "b, c", "a"}, "a,b,c,oauth-2025-04-20"},
		{"control characters dropped", []string{"a\r\nx: y,b\x00,c"}, "c,oauth-2025-04-20"},
		{"invalid UTF-8 dropped", []string{"\xff\xfe,ok"}, "ok,oauth-2025-04-20"},
		{"inner space kept", []string{"a b"}, "a b,oauth-2025-04-20"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mergeBeta(c.in...); got != c.want {
				t.Errorf("mergeBeta(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestMergeBetaManyItems(t *testing.T) {
	var in, want []string
	for i := range 3 * smallBetas {
		item := "beta-" + strings.Repeat("x", i)
		in = append(in, item, item) // each twice, so the map path sees duplicates
		want = append(want, item)
	}
	want = append(want, oauthBeta)
	if got := mergeBeta(strings.Join(in, ",")); got != strings.Join(want, ",") {
		t.Errorf("past %d items: got %d bytes, want %d", smallBetas, len(got), len(strings.Join(want, ",")))
	}
}

func FuzzMergeBeta(f *testing.F) {
	f.Add("", "")
	f.Add("a,b", "b,c")
	f.Add(" extended-cache-ttl-2025-04-11, oidc-federation-2026-04-01,,oauth-2025-04-20 ", "client-beta")
	f.Add("OIDC-FEDERATION-2026-04-01\r\n", "\xff,a b ,\t")
	f.Add(strings.Repeat("x,", 40), strings.Repeat("y,x,", 20))
	f.Fuzz(func(t *testing.T, a, b string) {
		got := mergeBeta(a, b)
		items := strings.Split(got, ",")
		seen := map[string]bool{}
		oauth := 0
		for _, it := range items {
			switch {
			case it == "":
				t.Fatalf("empty item in %q", got)
			case it != strings.Trim(it, " \t"):
				t.Fatalf("space around a comma in %q", got)
			case strings.EqualFold(it, federationBeta):
				t.Fatalf("federation flag forwarded: %q", got)
			case seen[it]:
				t.Fatalf("duplicate %q in %q", it, got)
			case !headerText(it) || !utf8.ValidString(it):
				t.Fatalf("unsendable item %q", it)
			}
			seen[it] = true
			if it == oauthBeta {
				oauth++
			}
		}
		if oauth != 1 {
			t.Fatalf("oauth flag %d times in %q", oauth, got)
		}
		// Client order: the client's kept items, first occurrences, in order.
		var client []string
		kept := map[string]bool{}
		for _, it := range strings.Split(a+","+b, ",") {
			it = strings.Trim(it, " \t")
			if it == "" || kept[it] || strings.EqualFold(it, federationBeta) || !headerText(it) {
				continue
			}
			kept[it] = true
			client = append(client, it)
		}
		if !kept[oauthBeta] {
			client = append(client, oauthBeta)
		}
		if want := strings.Join(client, ","); got != want {
			t.Fatalf("mergeBeta(%q, %q) = %q, want client order %q", a, b, got, want)
		}
	})
}
