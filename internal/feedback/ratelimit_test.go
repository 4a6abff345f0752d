package feedback

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestFloodRefreshesOncePer30s streams floods of upstream 401s naming the
// current generation, in simulated time: the credential refreshes once per
// 30 s however many arrive, a stale generation refreshes nothing, and the
// INFO line about the feedback is written at most once per credential per
// 30 s.
func TestFloodRefreshesOncePer30s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		creds, obs := newFakeCredentials("team-a", "team-b"), newCountingObserver()
		var logs logBuffer
		s := newTestServer(t, creds, obs, &logs)
		ms := newMemStream(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.StreamAccessLogs(ms) }()

		ms.in <- httpMessage(identifier())
		flood := func(generation uint64) {
			m := httpMessage(nil, repeat(stampedEntry("team-a", generation, 401, viaUpstream), 1000)...)
			for range 10 {
				ms.in <- m
			}
			synctest.Wait()
		}
		check := func(when string, wantRefreshes, wantLines int) {
			t.Helper()
			if got := creds.refreshes("team-a"); got != wantRefreshes {
				t.Errorf("%s: %d refreshes, want %d", when, got, wantRefreshes)
			}
			if got := len(logs.lines(t, "upstream answered 401")); got != wantLines {
				t.Errorf("%s: %d INFO lines about 401 feedback, want %d", when, got, wantLines)
			}
		}

		flood(1)
		check("first 10,000", 1, 1)
		if got := creds.invalidations(); got != 10_000 {
			t.Errorf("%d Invalidate calls, want one per entry", got)
		}
		time.Sleep(29 * time.Second)
		flood(1)
		check("29 s later", 1, 1)
		time.Sleep(2 * time.Second)
		flood(1)
		check("31 s after the first", 2, 2)
		if got := logs.lines(t, "upstream answered 401")[1]["suppressed"]; got != 19_999.0 {
			t.Errorf("the second line counts %v held back, want 19999", got)
		}

		newGen := creds.rotate("team-a")
		time.Sleep(40 * time.Second)
		flood(newGen - 1)
		check("stale generation", 2, 3)
		flood(newGen)
		check("new generation", 3, 3)
		if got := creds.refreshes("team-b"); got != 0 {
			t.Errorf("team-b refreshed %d times", got)
		}

		close(ms.in)
		if err := <-done; err != nil {
			t.Fatalf("stream: %v", err)
		}
		if ms.closed == nil {
			t.Error("no closing response")
		}
		_, upstream := obs.snapshot()
		if got := upstream[[2]string{"team-a", Class401}]; got != 50_000 {
			t.Errorf("counted %d upstream 401s, want 50000", got)
		}
	})
}
