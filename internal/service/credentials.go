package service

import (
	"time"

	"extauthz/internal/authz"
	"extauthz/internal/tokens"
)

// refresherCredentials lets Check read the refresher's token: one atomic load
// inside Refresher.Token, no allocation.
type refresherCredentials struct{ r *tokens.Refresher }

// Credential implements authz.Credentials.
func (c refresherCredentials) Credential(now time.Time) (authz.Credential, time.Duration, bool) {
	t, retryAfter := c.r.Token(now)
	if t == nil {
		return authz.Credential{}, retryAfter, false
	}
	return authz.Credential{Value: t.Value, Generation: t.Generation}, 0, true
}

// observers fans refresher events out to metrics and health.
type observers []tokens.Observer

// ExchangeFinished implements tokens.Observer.
func (o observers) ExchangeFinished(out tokens.Outcome, elapsed time.Duration) {
	for _, x := range o {
		x.ExchangeFinished(out, elapsed)
	}
}

// StatusChanged implements tokens.Observer.
func (o observers) StatusChanged(st tokens.Status) {
	for _, x := range o {
		x.StatusChanged(st)
	}
}

// healthUpdater follows the refresher's readiness in grpc.health.v1.
type healthUpdater struct{ s *Service }

// ExchangeFinished implements tokens.Observer.
func (healthUpdater) ExchangeFinished(tokens.Outcome, time.Duration) {}

// StatusChanged implements tokens.Observer.
func (h healthUpdater) StatusChanged(st tokens.Status) {
	if !h.s.stopping.Load() {
		h.s.setServing(st.Ready)
	}
}
