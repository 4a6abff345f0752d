package tokens

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestAcceptanceShortLivedTokens is issue #2's scenario: tokens that live
// 10 s and 64 concurrent callers for 30 s of virtual time. After the first
// token no caller is denied, no token is served past its expiry, and there
// are at most 30/(10/4) + 2 = 14 exchanges.
func TestAcceptanceShortLivedTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			lifetime = 10 * time.Second
			window   = 30 * time.Second
			callers  = 64
		)
		ex := &fakeExchanger{lifetime: lifetime, latency: 150 * time.Millisecond}
		obs := &recorder{}
		r, _ := startRefresher(t, RefresherOptions{Source: &fakeSource{}, Exchanger: ex, Observer: obs})
		start := time.Now()
		for !r.Status().Ready {
			time.Sleep(10 * time.Millisecond)
		}
		firstToken := time.Now()

		var denied, pastExpiry, served atomic.Int64
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				pace := time.Duration(7+i%13) * time.Millisecond
				for now := time.Now(); now.Before(start.Add(window)); now = time.Now() {
					tok, hint := r.Token(now)
					switch {
					case tok == nil:
						denied.Add(1)
						if hint < time.Second || hint > 60*time.Second {
							pastExpiry.Add(1) // a bad hint is as wrong as a bad token
						}
					case !now.Before(tok.Expiry) || !now.Before(tok.Edge):
						pastExpiry.Add(1)
					default:
						served.Add(1)
					}
					time.Sleep(pace)
				}
			})
		}
		wg.Wait()
		if firstToken.Sub(start) > time.Second {
			t.Errorf("first token after %v", firstToken.Sub(start))
		}
		if n := denied.Load(); n != 0 {
			t.Errorf("%d denials after the first token", n)
		}
		if n := pastExpiry.Load(); n != 0 {
			t.Errorf("%d tokens served at or past their edge", n)
		}
		if served.Load() == 0 {
			t.Fatal("no calls made")
		}
		exchanges := 0
		for _, c := range ex.callTimes() {
			if c.Before(start.Add(window)) {
				exchanges++
			}
		}
		if limit := int(window/(lifetime/4)) + 2; exchanges > limit {
			t.Errorf("%d exchanges in %v, want at most %d", exchanges, window, limit)
		}
		outcomes, _, _ := obs.snapshot()
		for _, o := range outcomes {
			if o != OutcomeSuccess {
				t.Errorf("outcome %q", o)
			}
		}
		t.Logf("%d exchanges, %d servings", exchanges, served.Load())
	})
}
