package feedback

import (
	"strings"
	"testing"
	"unicode/utf8"

	"extauthz/internal/secret"
)

func TestSanitize(t *testing.T) {
	cases := map[string]string{
		"sidecar~10.0.0.1~pod.ns":         "sidecar~10.0.0.1~pod.ns",
		"line\nbreak\r\x00\x1b[31m":       "line break   [31m",
		"bidi\u202eoverride":              "bidi override",
		"bad\xffutf8":                     "bad utf8",
		"tab\there":                       "tab here",
		"ünïcödé":                         "ünïcödé",
		"node sk-ant-oat01-AbCdEf1234567": "node " + secret.Redacted,
	}
	for in, want := range cases {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSanitizeBounds(t *testing.T) {
	long := strings.Repeat("é", maxIdentifierField) // two bytes each: the bound cuts one
	got := sanitize(long)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("cut badly: %q", got)
	}
	if n := len(strings.TrimSuffix(got, "…")); n > maxIdentifierField {
		t.Errorf("kept %d bytes, bound is %d", n, maxIdentifierField)
	}
	odd := "x" + long // the bound falls in the middle of a character
	if got := sanitize(odd); strings.ContainsRune(got, utf8.RuneError) || !utf8.ValidString(got) {
		t.Errorf("a character cut by the bound became %q", got)
	}
}

// TestStreamStartLog: the start of a stream is logged once with the
// identifier's node and log name, sanitised; a credential-shaped node id is
// masked (the suite's recorder fails the run if it is not).
func TestStreamStartLog(t *testing.T) {
	var logs logBuffer
	s := newTestServer(t, newFakeCredentials("team-a"), nil, &logs)
	id := identifier()
	id.Node.Id = "sk-ant-oat01-NodeIdThatLooksLikeAToken"
	id.LogName = "feedback\n\x1b[2Jforged line"
	st := &stream{}
	s.message(t.Context(), st, httpMessage(id, stampedEntry("team-a", 1, 200, viaUpstream)))
	s.message(t.Context(), st, httpMessage(id, stampedEntry("team-a", 1, 200, viaUpstream)))
	lines := logs.lines(t, "access-log stream started")
	if len(lines) != 1 {
		t.Fatalf("%d start lines, want 1", len(lines))
	}
	want := map[string]string{"node_id": secret.Redacted, "node_cluster": "extauthz-test", "log_name": "feedback  [2Jforged line"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("%s = %q, want %q", k, lines[0][k], v)
		}
	}
}
