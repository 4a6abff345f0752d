package tokens

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"extauthz/internal/secret"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// outcomeChan is an Observer that hands each outcome to the test.
type outcomeChan chan Outcome

func (c outcomeChan) ExchangeFinished(o Outcome, _ time.Duration) { c <- o }
func (c outcomeChan) StatusChanged(Status)                        {}

// TestNoSecretsLeakEndToEnd drives the real mint source, the real exchanger
// and the refresher over loopback fakes that echo credentials back in their
// error bodies, with debug logging and a recording tracer, and asserts that
// no access token, JWT or request token reaches the logs, the spans or the
// errors.
func TestNoSecretsLeakEndToEnd(t *testing.T) {
	logger, logs := captureLogs(t)

	var mintMode, tokenMode atomic.Int32 // 0: succeed; 1: reject, echoing the credential
	var minted atomic.Int32
	mint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mintMode.Load() == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"message":"bad token %s"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			return
		}
		fmt.Fprintf(w, `{"value":%q}`, numberedJWT(100+int(minted.Add(1))))
	}))
	t.Cleanup(mint.Close)
	var issued atomic.Int32
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Assertion string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("request-id", "req_e2e")
		if tokenMode.Load() == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"type":"error","error":{"type":"authentication_error","message":"assertion %s rejected; Bearer %s"}}`, body.Assertion, body.Assertion)
			return
		}
		fmt.Fprintf(w, `{"access_token":"%se2e-%d","token_type":"Bearer","expires_in":600}`, accessTokenPrefix, issued.Add(1))
	}))
	t.Cleanup(endpoint.Close)

	src, err := NewGitHubActions(mint.URL+"/?api-version=2.0", secret.New(testRequestToken), "https://api.anthropic.com", mint.Client())
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewAnthropicExchanger(AnthropicConfig{
		TokenURL: endpoint.URL + "/v1/oauth/token", FederationRuleID: "fdrl_e2e",
		OrganizationID: "00000000-0000-4000-8000-000000000000", ServiceAccountID: "svac_e2e",
	}, endpoint.Client())
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	// run starts a refresher and returns its outcomes and a stop function.
	run := func() (*Refresher, outcomeChan, func()) {
		outcomes := make(outcomeChan, 16)
		r, err := NewRefresher(RefresherOptions{Source: src, Exchanger: x, Logger: logger, Observer: outcomes, TracerProvider: tp})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		return r, outcomes, func() { cancel(); <-done }
	}
	expect := func(outcomes outcomeChan, want Outcome) {
		t.Helper()
		if got := <-outcomes; got != want {
			t.Fatalf("outcome %q, want %q", got, want)
		}
	}

	tokenMode.Store(1) // the token endpoint rejects and echoes the assertion
	_, outcomes, stop := run()
	expect(outcomes, OutcomeRejected)
	stop()

	mintMode.Store(1) // the mint rejects and echoes the request token
	_, outcomes, stop = run()
	expect(outcomes, OutcomeRejected)
	stop()

	mintMode.Store(0)
	tokenMode.Store(0)
	r, outcomes, stop := run()
	expect(outcomes, OutcomeSuccess)
	r.Invalidate(1)
	expect(outcomes, OutcomeSuccess)
	stop()

	if n := logs.count(t, slog.LevelError, "token refresh rejected (non-recoverable; retrying at the backoff cap)"); n != 2 {
		t.Errorf("%d ERROR lines, want 2", n)
	}
	if n := logs.count(t, slog.LevelInfo, "new access token"); n != 2 {
		t.Errorf("%d new-token lines, want 2", n)
	}
	if !strings.Contains(logs.String(), `"iss":"https://token.actions.githubusercontent.com"`) {
		t.Error("the debug attempt line does not carry the identity token's issuer")
	}

	ended := spans.Ended()
	if len(ended) != 4 {
		t.Fatalf("%d spans, want 4", len(ended))
	}
	var spanText strings.Builder
	outcomesSeen := map[string]int{}
	for _, s := range ended {
		if s.Name() != "tokens.refresh" || s.InstrumentationScope().Name != "extauthz/internal/tokens" {
			t.Errorf("span %q from %q", s.Name(), s.InstrumentationScope().Name)
		}
		spanText.WriteString(s.Status().Description)
		for _, a := range s.Attributes() {
			spanText.WriteString(" " + string(a.Key) + "=" + a.Value.Emit())
			if a.Key == "extauthz.refresh.outcome" {
				outcomesSeen[a.Value.AsString()]++
			}
			if a.Key == "http.response.status_code" && a.Value.AsInt64() != 401 {
				t.Errorf("span status code %d, want 401", a.Value.AsInt64())
			}
		}
	}
	if outcomesSeen["rejected"] != 2 || outcomesSeen["success"] != 2 {
		t.Errorf("span outcomes %v", outcomesSeen)
	}
	if !strings.Contains(spanText.String(), "http.response.status_code=401") {
		t.Error("no span carries the HTTP status")
	}
	assertNoSecrets(t, "span attributes", spanText.String())
}
