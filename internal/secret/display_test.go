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
		_, token, ok := strings.Cut(value, " ")
		if !ok {
			token = value
		}
		if len(token) > len("sk-ant-oat01-")+8 && strings.Contains(got, token) {
			t.Fatal("the credential survived")
		}
		if !strings.HasSuffix(got, "(fingerprint "+New(token).Fingerprint()+")") {
			t.Fatal("no fingerprint of the credential")
		}
	})
}
