package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const plain = "sk-ant-oat01-test.value.that.must.not.leak"

func TestValueNeverPrints(t *testing.T) {
	v := New(plain)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", v)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "token", v)
	j, err := json.Marshal(struct{ T Value }{v})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{
		fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s %q", v, v, v, v, v),
		fmt.Sprintf("%v", struct{ T Value }{v}), string(j), logs.String(),
	}
	for _, out := range outs {
		if strings.Contains(out, "oat01") {
			t.Errorf("secret leaked into %q", strings.ReplaceAll(out, plain, "<PLAIN>"))
		}
	}
	if !strings.Contains(logs.String(), v.Fingerprint()) {
		t.Errorf("log does not carry the fingerprint: %s", logs.String())
	}
	if v.Reveal() != plain {
		t.Error("Reveal does not return the plain text")
	}
}

// holder keeps a Value in an unexported field, as the identity sources and
// the static-key credentials do: fmt cannot call its methods there.
type holder struct {
	name string
	tok  Value
}

func TestValueNeverPrintsFromUnexportedField(t *testing.T) {
	h := holder{"gh", New(plain)}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "source", h, "ptr", &h)
	verbs := "%v %+v %#v %s"
	outs := []string{
		fmt.Sprintf(verbs, h, h, h, h), fmt.Sprintf(verbs, &h, &h, &h, &h),
		fmt.Sprintf("%v", []Value{New(plain)}), fmt.Sprintf("%v", map[string]Value{"k": New(plain)}),
		fmt.Sprintf(fmt.Sprint("%", "d %", "x"), New(plain), New(plain)), // verbs vet would flag
		logs.String(),
	}
	for _, out := range outs {
		if strings.Contains(out, "oat01") {
			t.Errorf("secret leaked into %q", strings.ReplaceAll(out, plain, "<PLAIN>"))
		}
	}
}

func TestZeroAndEmpty(t *testing.T) {
	for _, v := range []Value{{}, New("")} {
		if !v.IsZero() || v.Len() != 0 || v.Reveal() != "" || v.Fingerprint() != "none" {
			t.Errorf("empty value: IsZero %v, Len %d, Fingerprint %s", v.IsZero(), v.Len(), v.Fingerprint())
		}
	}
	if !New("a").Equal(New("a")) || New("a").Equal(New("b")) || !(Value{}).Equal(New("")) {
		t.Error("Equal does not compare the text")
	}
}

func TestFingerprint(t *testing.T) {
	if got := New("").Fingerprint(); got != "none" {
		t.Errorf("empty fingerprint = %q", got)
	}
	a, b := New("a").Fingerprint(), New("b").Fingerprint()
	if len(a) != 8 || a == b {
		t.Errorf("fingerprints %q %q: want 8 hex digits, distinct", a, b)
	}
	if New("a").Fingerprint() != a {
		t.Error("fingerprint not stable")
	}
}

func TestEnvDecodeTrims(t *testing.T) {
	var v Value
	if err := v.EnvDecode("  key\n"); err != nil {
		t.Fatal(err)
	}
	if v.Reveal() != "key" {
		t.Errorf("EnvDecode kept %d bytes, want the trimmed 3", v.Len())
	}
}

func TestScrub(t *testing.T) {
	jwt := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain message", "plain message"},
		{"bad token " + plain + " here", "bad token [REDACTED] here"},
		{"assertion=" + jwt, "assertion=[REDACTED]"},
		{`{"assertion":"` + jwt + `"}`, `{"assertion":"[REDACTED]"}`},
		{"Authorization: Bearer abcdefgh12345", "Authorization: [REDACTED]"},
		{"task-ant-thing", "task-ant-thing"},
		{"0" + plain, "0[REDACTED]"},
		{"eyJ alone", "eyJ alone"},
	}
	for _, c := range cases {
		if got := Scrub(c.in); got != c.want {
			t.Errorf("Scrub(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzScrub(f *testing.F) {
	f.Add("x " + plain)
	f.Add("eyJa.b.c")
	f.Add("Bearer sk-ant-api03-xyz")
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		if strings.Contains(out, plain) {
			t.Fatal("known secret survived Scrub")
		}
		if Scrub(out) != out {
			t.Fatalf("Scrub is not idempotent on %q", s)
		}
	})
}

// TestCleanTextRemovesWhatATerminalActsOn: controls, escape sequences and
// format characters (a bidi override can reorder what an operator reads)
// become spaces; credentials are masked before the cut, which cannot cut
// one past recognition.
func TestCleanTextRemovesWhatATerminalActsOn(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb\x00c\u009bd":                  "a b c d",
		"bidi\u202eoverride\u2066x":         "bidi override x",
		"zero\u200bwidth":                   "zero width",
		"ünïcödé, ok":                       "ünïcödé, ok",
		"  trimmed\t":                       "trimmed",
		"key sk-ant-api03-abcdefghijklmnop": "key " + Redacted,
	} {
		if got := CleanText(in, 64); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := CleanText("token sk-ant-oat01-abcdefghijklmnopqrstuvwxyz", 20); got != "token [REDACTED]" {
		t.Errorf("a credential at the bound: %q", got)
	}
	if got := CleanText("token sk-ant-oat01-abcdefghijklmnopqrstuvwxyz", 12); strings.Contains(got, "sk-ant") || strings.Contains(got, "abc") {
		t.Errorf("a credential cut by the bound shows: %q", got)
	}
}
