package emulator

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestFailAnswersWithAnInjectedErrorUntilHealed(t *testing.T) {
	te := startEmulator(t, Options{})
	jwt := te.mint(t, "https://api.anthropic.com")
	cases := []struct {
		status     int
		retryAfter time.Duration
		errType    string
		header     string
	}{
		{503, 2500 * time.Millisecond, "api_error", "3"},
		{429, 0, "rate_limit_error", ""},
		{529, time.Millisecond, "overloaded_error", "1"},
		{500, 0, "api_error", ""},
		{401, 0, "authentication_error", ""},
	}
	for _, c := range cases {
		te.Fail(c.status, c.retryAfter)
		resp, body := te.postToken(t, context.Background(), tokenHeaders(), te.tokenBody(jwt))
		if resp.StatusCode != c.status {
			t.Errorf("Fail(%d): status %d", c.status, resp.StatusCode)
		}
		if got := decodeAPIError(t, body).Error.Type; got != c.errType {
			t.Errorf("Fail(%d): error.type %q, want %q", c.status, got, c.errType)
		}
		if got := resp.Header.Get("Retry-After"); got != c.header {
			t.Errorf("Fail(%d, %v): Retry-After %q, want %q", c.status, c.retryAfter, got, c.header)
		}
	}
	if got := te.Stats(); got.Rejected != len(cases) || got.Exchanges != 0 {
		t.Errorf("Stats = %+v, want %d rejected and no exchange", got, len(cases))
	}
	te.Fail(0, 0)
	// The faults never looked at the JWT, so its jti is still unspent.
	if tr := te.exchange(t, jwt); !te.Valid(tr.AccessToken) {
		t.Error("token minted after healing is not valid")
	}
}

func TestFailRejectsANonErrorStatus(t *testing.T) {
	te := startEmulator(t, Options{})
	for _, status := range []int{200, 302, 600, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Fail(%d) did not panic", status)
				}
			}()
			te.Fail(status, 0)
		}()
	}
}

// hangEvents installs the onHang hook and returns its events.
func hangEvents(te *testEmulator) <-chan hangEvent {
	events := make(chan hangEvent, 8)
	te.mu.Lock()
	te.onHang = func(ev hangEvent) { events <- ev }
	te.mu.Unlock()
	return events
}

// exchangeAsync posts an exchange for jwt on ctx; the channel yields the
// status, or 0 with the error.
func exchangeAsync(te *testEmulator, ctx context.Context, jwt string) <-chan result {
	out := make(chan result, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, te.Env()["AWF_AUTH_ANTHROPIC_TOKEN_URL"], jsonReader(te.tokenBody(jwt)))
	if err != nil {
		out <- result{err: err}
		return out
	}
	req.Header = tokenHeaders()
	go func() {
		resp, err := te.client.Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		resp.Body.Close()
		out <- result{status: resp.StatusCode}
	}()
	return out
}

type result struct {
	status int
	err    error
}

func TestHangBlocksUntilTheRequestContextEnds(t *testing.T) {
	te := startEmulator(t, Options{})
	events := hangEvents(te)
	jwt := te.mint(t, "https://api.anthropic.com")
	te.Hang(true)

	ctx, cancel := context.WithCancel(context.Background())
	done := exchangeAsync(te, ctx, jwt)
	if ev := <-events; ev != hangWaiting {
		t.Fatalf("first event %v, want hangWaiting", ev)
	}
	select {
	case r := <-done:
		t.Fatalf("hung request answered: %+v", r)
	default:
	}
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Errorf("client got %+v, want context.Canceled", r)
	}
	if ev := <-events; ev != hangAbandoned {
		t.Errorf("server saw %v, want hangAbandoned", ev)
	}
	te.Hang(false)
	// The abandoned request consumed nothing: the same JWT still exchanges.
	te.exchange(t, jwt)
	if got, want := te.Stats(), (Stats{Mints: 1, Exchanges: 1}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestHangFalseReleasesWaitingRequests(t *testing.T) {
	te := startEmulator(t, Options{})
	events := hangEvents(te)
	te.Hang(true)
	done := exchangeAsync(te, context.Background(), te.mint(t, "https://api.anthropic.com"))
	if ev := <-events; ev != hangWaiting {
		t.Fatalf("first event %v, want hangWaiting", ev)
	}
	te.Hang(false)
	if r := <-done; r.status != http.StatusOK {
		t.Errorf("released request: %+v, want 200", r)
	}
	if ev := <-events; ev != hangReleased {
		t.Errorf("server saw %v, want hangReleased", ev)
	}
	// Behaving again: no wait at all.
	te.exchange(t, te.mint(t, "https://api.anthropic.com"))
}

func TestCloseReleasesHungRequests(t *testing.T) {
	te := startEmulator(t, Options{})
	events := hangEvents(te)
	te.Hang(true)
	done := exchangeAsync(te, context.Background(), te.mint(t, "https://api.anthropic.com"))
	<-events
	if err := te.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.status != http.StatusServiceUnavailable && r.err == nil {
		t.Errorf("hung request after Close: %+v, want 503 or a broken connection", r)
	}
	if ev := <-events; ev != hangAbandoned {
		t.Errorf("server saw %v, want hangAbandoned", ev)
	}
}
