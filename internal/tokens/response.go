package tokens

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"extauthz/internal/secret"
)

// Limits on what is kept from a reply.
const (
	maxExpiresInSeconds = 366 * 24 * 60 * 60 // a lifetime beyond a year is not a real grant
	maxRetryAfter       = 24 * time.Hour     // stored as given up to this; the Refresher honours at most 60 s
	maxMessageLen       = 512
	maxTypeLen          = 64
	maxRequestIDLen     = 128
)

// tokenResponse is the RFC 6749 §5.1 success body. Unknown keys are ignored.
type tokenResponse struct {
	AccessToken *string         `json:"access_token"`
	TokenType   *string         `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Scope       *string         `json:"scope"`
}

// parseTokenResponse checks a 200 body strictly: access_token present and
// usable in a header, token_type Bearer (any case) when given, expires_in a
// JSON integer from 1 s to a year. Every failure wraps ErrMalformedResponse
// and describes the field, never its value.
func parseTokenResponse(body []byte) (Grant, error) {
	var r tokenResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return Grant{}, fmt.Errorf("%w: not a JSON object with the expected field types", ErrMalformedResponse)
	}
	if r.AccessToken == nil || *r.AccessToken == "" {
		return Grant{}, fmt.Errorf("%w: no access_token", ErrMalformedResponse)
	}
	if !headerSafe(*r.AccessToken) {
		return Grant{}, fmt.Errorf("%w: access_token has characters not allowed in a header", ErrMalformedResponse)
	}
	if r.TokenType != nil && !strings.EqualFold(*r.TokenType, "Bearer") {
		return Grant{}, fmt.Errorf("%w: token_type %q is not Bearer", ErrMalformedResponse, cleanText(*r.TokenType, maxTypeLen))
	}
	if len(r.ExpiresIn) == 0 || string(r.ExpiresIn) == "null" {
		return Grant{}, fmt.Errorf("%w: no expires_in", ErrMalformedResponse)
	}
	secs, err := strconv.ParseInt(string(r.ExpiresIn), 10, 64)
	if err != nil {
		return Grant{}, fmt.Errorf("%w: expires_in is not an integer", ErrMalformedResponse)
	}
	if secs < 1 || secs > maxExpiresInSeconds {
		return Grant{}, fmt.Errorf("%w: expires_in %d is not between 1 and %d", ErrMalformedResponse, secs, maxExpiresInSeconds)
	}
	g := Grant{AccessToken: secret.New(*r.AccessToken), ExpiresIn: time.Duration(secs) * time.Second}
	if r.Scope != nil {
		g.Scope = cleanText(*r.Scope, maxMessageLen)
	}
	return g, nil
}

// headerSafe reports whether s is visible ASCII without spaces, so that it
// can follow "Bearer " in a header unchanged.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// parseExchangeError keeps only the documented fields of an error reply, in
// either shape: Anthropic's {"type":"error","error":{"type","message"}} or
// RFC 6749's {"error":"invalid_grant","error_description":…}. A body in
// neither shape leaves Type and Message empty; the raw body is never kept.
func parseExchangeError(status int, header http.Header, body []byte, now time.Time) *ExchangeError {
	e := &ExchangeError{
		StatusCode: status,
		RequestID:  cleanText(header.Get("Request-Id"), maxRequestIDLen),
		RetryAfter: parseRetryAfter(header.Get("Retry-After"), now),
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return e
	}
	raw, ok := top["error"]
	if !ok {
		return e
	}
	var code string
	var typ, msg string
	if json.Unmarshal(raw, &code) == nil {
		typ, msg = code, stringField(top, "error_description")
	} else {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil {
			typ, msg = stringField(obj, "type"), stringField(obj, "message")
		}
	}
	e.Type = cleanText(typ, maxTypeLen)
	e.Message = cleanText(msg, maxMessageLen)
	return e
}

// stringField returns m[key] when it is a JSON string, else "".
func stringField(m map[string]json.RawMessage, key string) string {
	var s string
	if raw, ok := m[key]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// parseRetryAfter reads a Retry-After value in delay-seconds or HTTP-date
// form; 0 when absent, unparsable or not in the future.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d.Round(time.Second), maxRetryAfter)
		}
	}
	return 0
}

// cleanText is secret.CleanText: outside text made safe to keep in an error.
func cleanText(s string, max int) string { return secret.CleanText(s, max) }
