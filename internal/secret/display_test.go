package secret

import (
	"strings"
	"testing"
)

func TestDisplayHeader(t *testing.T) {
	fp := New(plain).Fingerprint()
	cases := []struct{ name, value, want string }{
		{"authorization", "Bearer " + plain, "Bearer sk-ant-oat01-… (fingerprint " + fp + ")"},
		{"Authorization", "Bearer " + plain, "Bearer sk-ant-oat01-… (fingerprint " + fp + ")"},
		{"x-api-key", plain, "sk-ant-oat01-… (fingerprint " + fp + ")"},
		{"proxy-authorization", "Basic dXNlcjpwYXNz", "Basic … (fingerprint " + New("dXNlcjpwYXNz").Fingerprint() + ")"},
		{"x-api-key", "placeholder", "… (fingerprint " + New("placeholder").Fingerprint() + ")"},
		{"anthropic-beta", "oauth-2025-04-20", "oauth-2025-04-20"},
		{"x-api-key-hint", plain, plain}, // not a credential header: shown as is
		{"authorization", plain + " trailing", "sk-ant-oat01-… (fingerprint " + New(plain+" trailing").Fingerprint() + ")"},
		{"x-api-key", "Bearer " + plain, "… (fingerprint " + New("Bearer "+plain).Fingerprint() + ")"},
	}
	for _, c := range cases {
		if got := DisplayHeader(c.name, c.value); got != c.want {
			t.Errorf("DisplayHeader(%q, …) = %q, want %q", c.name, got, c.want)
		}
	}
}

func FuzzDisplayHeader(f *testing.F) {
	f.Add("authorization", "Bearer "+plain)
	f.Add("x-api-key", plain)
	f.Add("x-api-key", "sk-ant-api03-")
	f.Add("Proxy-Authorization", "  ")
	f.Fuzz(func(t *testing.T, name, value string) {
		got := DisplayHeader(name, value)
		if !IsCredentialHeader(name) {
			if got != value {
				t.Fatal("a non-credential header was changed")
			}
			return
		}
		shown, fp, ok := strings.Cut(got, "… (fingerprint ")
		if !ok || (len(fp) != 9 && fp != "none)") || !strings.HasSuffix(fp, ")") {
			t.Fatalf("%q does not end in a fingerprint", got)
		}
		for _, part := range strings.Fields(value) {
			if len(part) > len("sk-ant-oat01-")+8 && strings.Contains(shown, part) {
				t.Fatal("the credential survived")
			}
		}
	})
}
