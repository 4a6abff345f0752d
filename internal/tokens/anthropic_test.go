package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"extauthz/internal/secret"
)

const testAccessToken = accessTokenPrefix + "exchanged-0001"

// tokenEndpoint is a fake /v1/oauth/token that asserts the wire format of
// every request and answers with reply.
type tokenEndpoint struct {
	t             *testing.T
	wantBody      map[string]string
	wantAssertion string // the JWT the exchanger was given; testAssertion unless a test says otherwise
	wantUA        string
	reply         func(w http.ResponseWriter, r *http.Request)
	calls         atomic.Int32
	server        *httptest.Server
	exchanger     *AnthropicExchanger
}

func newTokenEndpoint(t *testing.T, workspace string, reply func(w http.ResponseWriter, r *http.Request)) *tokenEndpoint {
	t.Helper()
	e := &tokenEndpoint{t: t, reply: reply, wantUA: "extauthz", wantAssertion: testAssertion.Reveal()}
	e.server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.server.Close)
	cfg := AnthropicConfig{
		TokenURL:         e.server.URL + "/v1/oauth/token",
		FederationRuleID: "fdrl_01test",
		OrganizationID:   "7c3f4e1a-0000-4000-8000-000000000001",
		ServiceAccountID: "svac_01test",
		WorkspaceID:      workspace,
	}
	x, err := NewAnthropicExchanger(cfg, e.server.Client())
	if err != nil {
		t.Fatal(err)
	}
	e.exchanger = x
	e.wantBody = map[string]string{
		"grant_type":         "urn:ietf:params:oauth:grant-type:jwt-bearer",
		"federation_rule_id": "fdrl_01test",
		"organization_id":    "7c3f4e1a-0000-4000-8000-000000000001",
		"service_account_id": "svac_01test",
	}
	if workspace != "" {
		e.wantBody["workspace_id"] = workspace
	}
	return e
}

// serve checks method, path, headers and the exact body (assertion
// included, by equality, never printed), then replies.
func (e *tokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	t := e.t
	if r.Method != http.MethodPost || r.URL.Path != "/v1/oauth/token" {
		t.Errorf("request %s %s, want POST /v1/oauth/token", r.Method, r.URL.Path)
	}
	for k, v := range map[string]string{
		"Content-Type":   "application/json",
		"Accept":         "application/json",
		"Anthropic-Beta": "oauth-2025-04-20,oidc-federation-2026-04-01",
		"User-Agent":     e.wantUA,
	} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Errorf("request body is not a JSON object: %v", err)
	}
	want := map[string]any{"assertion": e.wantAssertion}
	for k, v := range e.wantBody {
		want[k] = v
	}
	if assertion, _ := body["assertion"].(string); assertion != e.wantAssertion {
		t.Errorf("request body's assertion (%d bytes) is not the JWT given to Exchange (%d bytes)", len(assertion), len(e.wantAssertion))
	}
	if !reflect.DeepEqual(body, want) {
		keys := make([]string, 0, len(body))
		for k := range body {
			keys = append(keys, k)
		}
		t.Errorf("request body keys %v do not match the expected body exactly", keys)
	}
	e.reply(w, r)
}

// replyJSON answers with status, extra headers and body.
func replyJSON(status int, body string, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

var testAssertion = secret.New(numberedJWT(1))

func TestExchangeSuccess(t *testing.T) {
	for _, workspace := range []string{"", "wrkspc_01test", "default"} {
		t.Run("workspace="+workspace, func(t *testing.T) {
			e := newTokenEndpoint(t, workspace, replyJSON(200,
				`{"access_token":"`+testAccessToken+`","token_type":"bearer","expires_in":3600,"scope":"user:inference","extra":{"x":1}}`))
			g, err := e.exchanger.Exchange(context.Background(), testAssertion)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if g.AccessToken.Reveal() != testAccessToken || g.ExpiresIn != time.Hour || g.Scope != "user:inference" {
				t.Errorf("grant: fingerprint %s, %v, %q", g.AccessToken.Fingerprint(), g.ExpiresIn, g.Scope)
			}
			if e.calls.Load() != 1 {
				t.Errorf("%d requests, want 1", e.calls.Load())
			}
		})
	}
}

func TestExchangeTokenTypeAbsentOrAnyCase(t *testing.T) {
	for _, tt := range []string{``, `"token_type":"Bearer",`, `"token_type":"BEARER",`} {
		e := newTokenEndpoint(t, "", replyJSON(200, `{`+tt+`"access_token":"`+testAccessToken+`","expires_in":60}`))
		if _, err := e.exchanger.Exchange(context.Background(), testAssertion); err != nil {
			t.Errorf("token_type %s: %v", tt, err)
		}
	}
}

func TestExchangeCustomUserAgent(t *testing.T) {
	e := newTokenEndpoint(t, "", replyJSON(200, `{"access_token":"`+testAccessToken+`","expires_in":60}`))
	e.wantUA = "extauthz/1.2.3"
	x, err := NewAnthropicExchanger(AnthropicConfig{
		TokenURL: e.server.URL + "/v1/oauth/token", FederationRuleID: "fdrl_01test",
		OrganizationID: "7c3f4e1a-0000-4000-8000-000000000001", ServiceAccountID: "svac_01test",
		UserAgent: "extauthz/1.2.3",
	}, e.server.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Exchange(context.Background(), testAssertion); err != nil {
		t.Fatal(err)
	}
}

func TestExchangeErrorReplies(t *testing.T) {
	echoed := testAssertion.Reveal()
	for _, c := range []struct {
		name        string
		status      int
		body        string
		headers     []string
		wantType    string
		wantMessage string
		wantTemp    bool
		wantRetry   time.Duration
	}{
		{"400 anthropic shape", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"federation_rule_id is malformed"}}`,
			[]string{"request-id", "req_011test"}, "invalid_request_error", "federation_rule_id is malformed", false, 0},
		{"401 anthropic shape", 401, `{"type":"error","error":{"type":"authentication_error","message":"Authentication failed"}}`,
			nil, "authentication_error", "Authentication failed", false, 0},
		{"400 RFC 6749 shape", 400, `{"error":"invalid_grant","error_description":"assertion expired"}`,
			nil, "invalid_grant", "assertion expired", false, 0},
		{"403", 403, `{"type":"error","error":{"type":"permission_error","message":"no"}}`, nil, "permission_error", "no", false, 0},
		{"assertion echoed back", 401, `{"type":"error","error":{"type":"authentication_error","message":"bad assertion ` + echoed + `"}}`,
			nil, "authentication_error", "bad assertion [REDACTED]", false, 0},
		{"RFC shape echoing", 400, `{"error":"invalid_grant","error_description":"jwt ` + echoed + ` rejected","error_uri":"x"}`,
			nil, "invalid_grant", "jwt [REDACTED] rejected", false, 0},
		{"500 not JSON", 500, `<html>upstream exploded ` + echoed + `</html>`, nil, "", "", true, 0},
		{"503 retry-after seconds", 503, `{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`,
			[]string{"Retry-After", "7"}, "overloaded_error", "busy", true, 7 * time.Second},
		{"429", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`,
			[]string{"Retry-After", "120"}, "rate_limit_error", "slow down", true, 120 * time.Second},
		{"408 empty body", 408, ``, nil, "", "", true, 0},
		{"error object with wrong types", 400, `{"error":{"type":7,"message":["x"]}}`, nil, "", "", false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTokenEndpoint(t, "", replyJSON(c.status, c.body, c.headers...))
			_, err := e.exchanger.Exchange(context.Background(), testAssertion)
			var xe *ExchangeError
			if !errors.As(err, &xe) {
				t.Fatalf("error %T is not an *ExchangeError", err)
			}
			if xe.StatusCode != c.status || xe.Type != c.wantType || xe.Message != c.wantMessage || xe.RetryAfter != c.wantRetry {
				t.Errorf("got {%d %q %q %v}, want {%d %q %q %v}", xe.StatusCode, xe.Type, xe.Message, xe.RetryAfter,
					c.status, c.wantType, c.wantMessage, c.wantRetry)
			}
			if xe.Temporary() != c.wantTemp || Recoverable(err) != c.wantTemp {
				t.Errorf("Temporary = %v, Recoverable = %v, want %v", xe.Temporary(), Recoverable(err), c.wantTemp)
			}
			wantID := ""
			if len(c.headers) == 2 && c.headers[0] == "request-id" {
				wantID = c.headers[1]
			}
			if xe.RequestID != wantID {
				t.Errorf("RequestID = %q, want %q", xe.RequestID, wantID)
			}
			assertNoSecrets(t, "error text", err.Error()+fmt.Sprintf(" %+v", xe))
		})
	}
}

func TestExchangeMalformedSuccess(t *testing.T) {
	for _, c := range []struct{ name, body string }{
		{"not JSON", `access_token=x`},
		{"array", `[]`},
		{"null", `null`},
		{"no access_token", `{"token_type":"Bearer","expires_in":3600}`},
		{"empty access_token", `{"access_token":"","expires_in":3600}`},
		{"access_token not a string", `{"access_token":12,"expires_in":3600}`},
		{"access_token with a newline", `{"access_token":"sk-ant-oat01-a\r\nX-Evil: 1","expires_in":3600}`},
		{"missing expires_in", `{"access_token":"` + testAccessToken + `"}`},
		{"null expires_in", `{"access_token":"` + testAccessToken + `","expires_in":null}`},
		{"zero expires_in", `{"access_token":"` + testAccessToken + `","expires_in":0}`},
		{"negative expires_in", `{"access_token":"` + testAccessToken + `","expires_in":-5}`},
		{"string expires_in", `{"access_token":"` + testAccessToken + `","expires_in":"3600"}`},
		{"fractional expires_in", `{"access_token":"` + testAccessToken + `","expires_in":3600.5}`},
		{"huge expires_in", `{"access_token":"` + testAccessToken + `","expires_in":99999999999999}`},
		{"wrong token_type", `{"access_token":"` + testAccessToken + `","token_type":"mac","expires_in":3600}`},
		{"empty token_type", `{"access_token":"` + testAccessToken + `","token_type":"","expires_in":3600}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTokenEndpoint(t, "", replyJSON(200, c.body))
			_, err := e.exchanger.Exchange(context.Background(), testAssertion)
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v, want ErrMalformedResponse", err)
			}
			if !Recoverable(err) {
				t.Error("a malformed reply should be retried")
			}
			assertNoSecrets(t, "error text", err.Error())
		})
	}
}

func TestExchangeOversizedBody(t *testing.T) {
	big := `{"access_token":"` + testAccessToken + `","expires_in":3600,"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	e := newTokenEndpoint(t, "", replyJSON(200, big))
	if _, err := e.exchanger.Exchange(context.Background(), testAssertion); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("200 with %d bytes: %v, want ErrResponseTooLarge", len(big), err)
	}
	bigErr := `{"error":"invalid_grant","error_description":"` + strings.Repeat("y", maxBodyBytes) + `"}`
	e = newTokenEndpoint(t, "", replyJSON(400, bigErr))
	_, err := e.exchanger.Exchange(context.Background(), testAssertion)
	var xe *ExchangeError
	if !errors.As(err, &xe) || xe.StatusCode != 400 || xe.Type != "" || xe.Message != "" {
		t.Errorf("oversized error body: %v; want a bare 400", err)
	}
	// Exactly at the cap is fine.
	pad := maxBodyBytes - len(`{"access_token":"`+testAccessToken+`","expires_in":3600,"pad":""}`)
	exact := `{"access_token":"` + testAccessToken + `","expires_in":3600,"pad":"` + strings.Repeat("x", pad) + `"}`
	e = newTokenEndpoint(t, "", replyJSON(200, exact))
	if _, err := e.exchanger.Exchange(context.Background(), testAssertion); err != nil {
		t.Errorf("body of exactly %d bytes: %v", len(exact), err)
	}
}

func TestExchangeHangsPastTimeout(t *testing.T) {
	e := newTokenEndpoint(t, "", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.exchanger.Exchange(ctx, testAssertion)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
	if !Recoverable(err) {
		t.Error("a timeout should be recoverable")
	}
}

func TestExchangeAssertionLimit(t *testing.T) {
	e := newTokenEndpoint(t, "", replyJSON(200, `{"access_token":"`+testAccessToken+`","expires_in":60}`))
	over := secret.New(strings.Repeat("a", 16<<10+1))
	_, err := e.exchanger.Exchange(context.Background(), over)
	if !errors.Is(err, ErrAssertionTooLarge) || Recoverable(err) {
		t.Errorf("16 KiB + 1: %v (recoverable %v), want non-recoverable ErrAssertionTooLarge", err, Recoverable(err))
	}
	if _, err := e.exchanger.Exchange(context.Background(), secret.Value{}); !errors.Is(err, ErrEmptyIdentityToken) {
		t.Errorf("empty assertion: %v, want ErrEmptyIdentityToken", err)
	}
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("%d requests sent for refused assertions, want 0", n)
	}
	e.wantAssertion = strings.Repeat("a", 16<<10)
	if _, err := e.exchanger.Exchange(context.Background(), secret.New(e.wantAssertion)); err != nil {
		t.Errorf("exactly 16 KiB: %v", err)
	}
}

func TestExchangeDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	e := newTokenEndpoint(t, "", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	})
	_, err := e.exchanger.Exchange(context.Background(), testAssertion)
	var xe *ExchangeError
	if !errors.As(err, &xe) || xe.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("error %v, want a 307 ExchangeError", err)
	}
	if elsewhere.Load() != 0 {
		t.Error("the assertion followed the redirect")
	}
}

func TestNewAnthropicExchangerValidates(t *testing.T) {
	good := AnthropicConfig{TokenURL: "https://api.anthropic.com/v1/oauth/token", FederationRuleID: "fdrl_1", OrganizationID: "org", ServiceAccountID: "svac_1"}
	if _, err := NewAnthropicExchanger(good, nil); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	insecure := good
	insecure.TokenURL = "http://api.example.com/v1/oauth/token"
	if _, err := NewAnthropicExchanger(insecure, nil); !errors.Is(err, ErrInsecureEndpoint) {
		t.Errorf("http to a non-loopback host: %v, want ErrInsecureEndpoint", err)
	}
	sneaky := good
	sneaky.TokenURL = "http://localhost.evil.example/v1/oauth/token"
	if _, err := NewAnthropicExchanger(sneaky, nil); !errors.Is(err, ErrInsecureEndpoint) {
		t.Errorf("http://localhost.evil.example: %v, want ErrInsecureEndpoint", err)
	}
	if _, err := NewAnthropicExchanger(AnthropicConfig{TokenURL: good.TokenURL}, nil); err == nil {
		t.Error("config without rule, organisation and service account accepted")
	}
}
