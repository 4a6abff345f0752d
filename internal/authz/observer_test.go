package authz

import (
	"context"
	"sync"
	"testing"
	"time"
)

type recordingObserver struct {
	mu      sync.Mutex
	results []Result
}

func (o *recordingObserver) CheckFinished(_ int, r Result, elapsed time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if elapsed >= 0 {
		o.results = append(o.results, r)
	}
}

func TestObserverSeesEveryResult(t *testing.T) {
	cases := []struct {
		request string
		creds   Credentials
		want    Result
	}{
		{"basic", servable(testToken), ResultOK},
		{"other_host", servable(testToken), ResultForbidden},
		{"basic", notServable(time.Second), ResultUnavailable},
		{"basic", servable("bad\n" + badSecretMark), ResultUnavailable},
		{"empty", servable(testToken), ResultInvalid},
	}
	for _, c := range cases {
		o := new(recordingObserver)
		s := newTestServer(t, Options{Credentials: single(ModeWIF, c.creds), AllowedHosts: anthropicOnly, Observer: o})
		s.Check(context.Background(), loadRequest(t, c.request))
		if len(o.results) != 1 || o.results[0] != c.want {
			t.Errorf("%s: observer got %v, want [%s]", c.request, o.results, c.want)
		}
	}
}
