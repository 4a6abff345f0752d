package tokens

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"extauthz/internal/secret"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"7", 7 * time.Second},
		{" 30 ", 30 * time.Second},
		{"99999999999999999", maxRetryAfter},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	} {
		if got := parseRetryAfter(c.v, now); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"  line1\nline2\x00 ", 64, "line1 line2"},
		{"abcdefghij", 4, "abcd…"},
		{"héllo", 2, "h…"}, // never splits a rune
		{"token sk-ant-oat01-abcdefghijklmnop end", 64, "token [REDACTED] end"},
		{"sk-ant-oat01-abcdefghijklmnopqrstuvwxyz", 12, "[REDACTED]"}, // scrubbed before it is cut
		{"bad\xffbyte", 64, "bad byte"},
	} {
		if got := cleanText(c.in, c.max); got != c.want {
			t.Errorf("cleanText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestParseExchangeErrorTruncates(t *testing.T) {
	body := `{"type":"error","error":{"type":"` + strings.Repeat("t", 500) + `","message":"` + strings.Repeat("m", 5000) + `"}}`
	e := parseExchangeError(400, http.Header{"Request-Id": {strings.Repeat("r", 500)}}, []byte(body), time.Now())
	if len(e.Type) > maxTypeLen+len("…") || len(e.Message) > maxMessageLen+len("…") || len(e.RequestID) > maxRequestIDLen+len("…") {
		t.Errorf("fields not truncated: %d, %d, %d bytes", len(e.Type), len(e.Message), len(e.RequestID))
	}
}

func TestExchangeErrorTemporary(t *testing.T) {
	for code, want := range map[int]bool{
		400: false, 401: false, 403: false, 404: false, 307: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 504: true,
	} {
		if got := (&ExchangeError{StatusCode: code}).Temporary(); got != want {
			t.Errorf("Temporary(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestRecoverable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, true},
		{"plain", errors.New("connection refused"), true},
		{"wrapped 401", wrapf(&ExchangeError{StatusCode: 401}), false},
		{"wrapped 503", wrapf(&ExchangeError{StatusCode: 503}), true},
		{"mint 403", &IdentityError{Source: "github-actions", StatusCode: 403}, false},
		{"mint 502", &IdentityError{Source: "github-actions", StatusCode: 502}, true},
		{"file missing", &IdentityError{Source: "token-file", Err: errors.New("no such file")}, true},
		{"file too large", &IdentityError{Source: "token-file", Err: ErrIdentityTokenTooLarge}, false},
		{"assertion too large", wrapf(ErrAssertionTooLarge), false},
		{"malformed", wrapf(ErrMalformedResponse), true},
	} {
		if got := Recoverable(c.err); got != c.want {
			t.Errorf("%s: Recoverable = %v, want %v", c.name, got, c.want)
		}
	}
}

func wrapf(err error) error { return errors.Join(errors.New("context"), err) }

// FuzzParseTokenResponse: the parser never panics and accepts only valid
// grants, judged independently from a generic decode of the same bytes.
func FuzzParseTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"sk-ant-oat01-x","token_type":"Bearer","expires_in":3600,"scope":"user:inference"}`,
		`{"access_token":"sk-ant-oat01-x","expires_in":1}`,
		`{"access_token":"sk-ant-oat01-x","token_type":"mac","expires_in":3600}`,
		`{"access_token":"sk-ant-oat01-x","expires_in":"3600"}`,
		`{"access_token":"sk-ant-oat01-x","expires_in":0}`,
		`{"access_token":"a b","expires_in":5}`,
		`{"expires_in":5}`,
		`{"ACCESS_TOKEN":"x","Expires_In":5}`,
		`null`, `[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		g, err := parseTokenResponse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error does not wrap ErrMalformedResponse: %v", err)
			}
			return
		}
		if g.AccessToken.IsZero() || !headerSafe(g.AccessToken.Reveal()) {
			t.Fatal("accepted an empty or header-unsafe access token")
		}
		if g.ExpiresIn < time.Second || g.ExpiresIn > maxExpiresInSeconds*time.Second || g.ExpiresIn%time.Second != 0 {
			t.Fatalf("accepted expires_in %v", g.ExpiresIn)
		}
		var generic map[string]any
		if err := json.Unmarshal(body, &generic); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		if tt, n := lookupFold(generic, "token_type"); n == 1 {
			if s, isString := tt.(string); !isString || !strings.EqualFold(s, "Bearer") {
				t.Fatal("accepted a token_type other than Bearer")
			}
		}
		switch v, n := lookupFold(generic, "expires_in"); n {
		case 0:
			t.Fatal("accepted a body without expires_in")
		case 1:
			if secs, isNumber := v.(float64); !isNumber || secs < 1 {
				t.Fatal("accepted a non-numeric or non-positive expires_in")
			}
		}
	})
}

// lookupFold finds the keys that encoding/json would match to key (equal
// ignoring case) and returns one value and their number. With several, which
// one wins depends on their order, which a map has lost: the oracle abstains.
func lookupFold(m map[string]any, key string) (v any, n int) {
	for k, val := range m {
		if strings.EqualFold(k, key) {
			v, n = val, n+1
		}
	}
	return v, n
}

// FuzzParseExchangeError: whatever an error reply holds, the ExchangeError
// keeps bounded, printable fields, and its text carries nothing
// credential-shaped (Scrub leaves it unchanged) — above all not an
// assertion the server echoed back.
func FuzzParseExchangeError(f *testing.F) {
	echoed := testAssertion.Reveal()
	for _, s := range []struct {
		status                int
		requestID, retryAfter string
		body                  string
	}{
		{400, "req_011test", "", `{"type":"error","error":{"type":"invalid_request_error","message":"federation_rule_id is malformed"}}`},
		{401, "", "", `{"type":"error","error":{"type":"authentication_error","message":"bad assertion ` + echoed + `"}}`},
		{400, "", "", `{"error":"invalid_grant","error_description":"jwt ` + echoed + ` rejected"}`},
		{401, "", "", `{"error":"invalid_grant","error_description":"Bearer\n` + echoed + `"}`},
		{401, "", "", `{"error":{"type":"x","message":"bearer\u0000abcdefghijklmnop"}}`},
		{503, "req\r\nX-Evil: 1", "7", `<html>` + echoed + `</html>`},
		{429, "", "Wed, 21 Oct 2015 07:28:00 GMT", `{"error":{"type":7}}`},
		{500, "", "-1", ``},
	} {
		f.Add(s.status, s.requestID, s.retryAfter, []byte(s.body))
	}
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, requestID, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Request-Id", requestID)
		h.Set("Retry-After", retryAfter)
		e := parseExchangeError(status, h, body, now)
		if e.StatusCode != status {
			t.Fatalf("status %d kept as %d", status, e.StatusCode)
		}
		ellipsis := len("…")
		if len(e.Type) > maxTypeLen+ellipsis || len(e.Message) > maxMessageLen+ellipsis || len(e.RequestID) > maxRequestIDLen+ellipsis {
			t.Fatalf("fields not bounded: %d, %d, %d bytes", len(e.Type), len(e.Message), len(e.RequestID))
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("RetryAfter %v outside [0, %v]", e.RetryAfter, maxRetryAfter)
		}
		text := e.Error()
		for _, r := range text {
			if unicode.IsControl(r) {
				t.Fatalf("error text has control character %U", r)
			}
		}
		if secret.Scrub(text) != text {
			t.Fatal("error text holds credential-shaped text")
		}
		if strings.Contains(text, echoed) {
			t.Fatal("error text holds the echoed assertion")
		}
	})
}
