package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injected clock: it moves only when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects log output from the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEmulator is a running emulator on loopback with an injected clock,
// captured logs and a client that talks to it.
type testEmulator struct {
	*Emulator
	clock  *fakeClock
	logs   *logBuffer
	client *http.Client
}

// startEmulator starts an emulator for one test. When the test ends it is
// closed and its logs are checked for credentials: no JWT (every JWS starts
// with base64url "{"), no access token, no request token.
func startEmulator(t *testing.T, o Options) *testEmulator {
	t.Helper()
	te := &testEmulator{
		clock: &fakeClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)},
		logs:  &logBuffer{},
	}
	o.now = te.clock.Now
	o.Logger = slog.New(slog.NewJSONHandler(te.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	te.Emulator = e
	transport := &http.Transport{} // no proxy from the environment
	te.client = &http.Client{Transport: transport}
	requestToken := e.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
	t.Cleanup(func() {
		logs := te.logs.String()
		leaks := map[string]string{"a JWT": "eyJ", "an access token": accessTokenPrefix, "the request token": requestToken}
		for what, leak := range leaks {
			if strings.Contains(logs, leak) {
				t.Errorf("logs contain %s", what)
			}
		}
	})
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return te
}

// mint asks the mint endpoint for a JWT for aud ("" for the default).
func (te *testEmulator) mint(t *testing.T, aud string) string {
	t.Helper()
	u := te.Env()["ACTIONS_ID_TOKEN_REQUEST_URL"]
	if aud != "" {
		u += "&audience=" + url.QueryEscape(aud)
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+te.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	req.Header.Set("Accept", "application/json")
	resp, body := te.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mint: status %d, body %s", resp.StatusCode, body)
	}
	var out struct{ Value string }
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		t.Fatalf("mint: no value in the response (%v)", err)
	}
	return out.Value
}

// tokenBody is a well-formed exchange body for assertion with this
// emulator's IDs.
func (te *testEmulator) tokenBody(assertion string) map[string]string {
	env := te.Env()
	return map[string]string{
		"grant_type":         jwtBearerGrant,
		"assertion":          assertion,
		"federation_rule_id": env["AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"],
		"organization_id":    env["AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"],
		"service_account_id": env["AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"],
	}
}

// tokenHeaders are the headers the SDKs send on an exchange.
func tokenHeaders() http.Header {
	return http.Header{
		"Content-Type":   {"application/json"},
		"Anthropic-Beta": {"oauth-2025-04-20,oidc-federation-2026-04-01"},
	}
}

// postToken posts body (marshalled unless it is already []byte) to the token
// endpoint.
func (te *testEmulator) postToken(t *testing.T, ctx context.Context, h http.Header, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if raw, ok := body.([]byte); ok {
		r = bytes.NewReader(raw)
	} else {
		r = jsonReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, te.Env()["AWF_AUTH_ANTHROPIC_TOKEN_URL"], r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	return te.do(t, req)
}

// exchange posts a well-formed request for assertion and returns the access
// token, failing the test unless the answer is 200.
func (te *testEmulator) exchange(t *testing.T, assertion string) tokenResponse {
	t.Helper()
	resp, body := te.postToken(t, context.Background(), tokenHeaders(), te.tokenBody(assertion))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: status %d, body %s", resp.StatusCode, body)
	}
	return decodeTokenResponse(t, body)
}

// decodeTokenResponse decodes a successful exchange's body.
func decodeTokenResponse(t *testing.T, body []byte) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatalf("exchange: decode response: %v", err)
	}
	return tr
}

func (te *testEmulator) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := te.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if resp.Header.Get("request-id") == "" {
		t.Errorf("%s %s: no request-id header", req.Method, req.URL.Path)
	}
	return resp, body
}

// decodeAPIError decodes an Anthropic-shaped error body.
func decodeAPIError(t *testing.T, body []byte) apiError {
	t.Helper()
	var ae apiError
	if err := json.Unmarshal(body, &ae); err != nil || ae.Type != "error" || ae.Error.Type == "" {
		t.Fatalf("not an Anthropic error body: %s", body)
	}
	return ae
}

func jsonReader(v any) io.Reader {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return bytes.NewReader(raw)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
