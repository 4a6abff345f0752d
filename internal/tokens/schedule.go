package tokens

import "time"

// The refresh policy in numbers (design.md, "Refresh policy"). L is a token's
// lifetime (expires_in) measured from when its exchange request was sent; u
// is uniform in [0,1). Everything here is pure arithmetic over durations and
// instants, so it is table-tested without goroutines or clocks.
const (
	maxSafetyMargin    = 30 * time.Second // S = min(30 s, L/10)
	maxAdvisoryWindow  = 15 * time.Minute // A = min(L/2, 15 min)
	refreshJitter      = 0.2              // refresh at L − A·(1 − 0.2·u)
	backoffBase        = time.Second      // first retry after 1 s, doubling
	backoffJitter      = 0.2              // ±20 %
	minBackoffCap      = 5 * time.Second  // cap = clamp(L/10, 5 s, 60 s); 5 s before the first token
	maxBackoffCap      = 60 * time.Second //
	maxRetryAfterWait  = 60 * time.Second // Retry-After is honoured up to this
	edgeLead           = time.Second      // one attempt still starts by Edge − 1 s
	invalidateInterval = 30 * time.Second // at most one Invalidate-triggered refresh per interval
	maxRetryHint       = 60 * time.Second // Token's retry-after hint lies in [1 s, 60 s]
)

// safetyMargin is S = min(30 s, L/10): a token is served only before
// Expiry − S.
func safetyMargin(lifetime time.Duration) time.Duration {
	return min(maxSafetyMargin, lifetime/10)
}

// refreshDelay is how long after the exchange was sent the next refresh is
// due: L − A·(1 − 0.2·u) with A = min(L/2, 15 min). For L ≤ 30 min that is
// 50–60 % of L, for an hour 75–80 %; never below L/2, so no lifetime makes
// the refresher loop hot, and jittered so replicas do not refresh in step.
func refreshDelay(lifetime time.Duration, u float64) time.Duration {
	a := min(lifetime/2, maxAdvisoryWindow)
	return lifetime - time.Duration(float64(a)*(1-refreshJitter*u))
}

// backoffCap is clamp(L/10, 5 s, 60 s) for the latest token's lifetime, or
// 5 s when there has never been a token (lifetime 0).
func backoffCap(lifetime time.Duration) time.Duration {
	if lifetime <= 0 {
		return minBackoffCap
	}
	return min(max(lifetime/10, minBackoffCap), maxBackoffCap)
}

// backoffDelay is the pause after the failures-th consecutive failure:
// 1 s·2^(failures−1) ±20 %, never above cap. Once the doubling reaches the cap
// the pause is jittered below it, in (0.8·cap, cap], so replicas stay apart
// and an outage still heals within one cap.
func backoffDelay(failures int, cap time.Duration, u float64) time.Duration {
	n := max(failures-1, 0)
	if n >= 32 || backoffBase<<n >= cap {
		return atCap(cap, u)
	}
	base := backoffBase << n
	return min(cap, time.Duration(float64(base)*(1-backoffJitter+2*backoffJitter*u)))
}

// atCap is the cap jittered downwards: cap·(1 − 0.2·u), in (0.8·cap, cap].
func atCap(cap time.Duration, u float64) time.Duration {
	return time.Duration(float64(cap) * (1 - backoffJitter*u))
}

// honourRetryAfter lengthens d to the server's Retry-After, at most 60 s.
func honourRetryAfter(d, retryAfter time.Duration) time.Duration {
	return max(d, min(retryAfter, maxRetryAfterWait))
}

// clampToEdge shortens a pause that starts at now so that one more attempt
// starts by edge − 1 s while the current token is still servable. Once now
// has reached edge − 1 s it changes nothing, so it adds at most one attempt
// per token and cannot make the loop hot. A zero edge (no token) changes
// nothing.
func clampToEdge(now time.Time, d time.Duration, edge time.Time) time.Duration {
	if edge.IsZero() {
		return d
	}
	last := edge.Add(-edgeLead)
	if now.Before(last) && now.Add(d).After(last) {
		return last.Sub(now)
	}
	return d
}

// lateRefreshDelay is the pause before refreshing a token whose answer came
// at now, after the refresh point drawn for it (a slow answer and a short
// lifetime: only L under 20 s can be answered that late within the 10 s
// attempt budget). Waiting a whole delay again would let the token lapse
// though the endpoint answers — with L = 12 s and a 7 s answer, the next
// attempt would come 4 s after the edge — so it waits as after a failure: at
// most the backoff cap, and clamped to start by edge − 1 s. Not at once: the
// exchange took at least L/2 after it was sent, so this cannot loop hot, but
// a slow endpoint gets a pause.
func lateRefreshDelay(now time.Time, delay, lifetime time.Duration, edge time.Time) time.Duration {
	return clampToEdge(now, min(delay, backoffCap(lifetime)), edge)
}

// retryHint is the time until next, rounded up to whole seconds and kept
// within [1 s, 60 s], for a denied caller's Retry-After.
func retryHint(next, now time.Time) time.Duration {
	d := next.Sub(now)
	if d >= maxRetryHint {
		return maxRetryHint
	}
	if d <= time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}
