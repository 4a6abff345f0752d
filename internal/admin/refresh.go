package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// RefreshInterval is the least time between two RefreshCredential calls that
// run an attempt for the same credential. Scheduled refreshes, retries and
// invalidations do not count: the refresher keeps its own schedule.
const RefreshInterval = 5 * time.Second

// RefreshCredential runs one refresh attempt of the named credential now and
// returns its state after the attempt.
//
// Policy, in order: an unknown name is NOT_FOUND (quoted only when it is a
// well-formed credential name, so a token pasted by mistake is never echoed);
// a static key is FAILED_PRECONDITION, since it has nothing to refresh, and
// does not count against the rate limit; a second call for the same
// credential within RefreshInterval of the last one that ran is
// RESOURCE_EXHAUSTED with the wait left; a failed attempt is UNAVAILABLE with
// its scrubbed reason. The call's context bounds only the wait: when it ends
// first the call returns its DEADLINE_EXCEEDED or CANCELED, and the attempt
// runs on under the refresher's own budget.
func (s *Server) RefreshCredential(ctx context.Context, req *adminv1.RefreshCredentialRequest) (*adminv1.RefreshCredentialResponse, error) {
	name := req.GetName()
	c, ok := s.byName[name]
	if !ok {
		return nil, status.Error(codes.NotFound, s.unknownName(name))
	}
	if c.Info().Mode == ModeStatic {
		return nil, status.Errorf(codes.FailedPrecondition, "credential %q is a static key: %v", name, ErrNotRefreshable)
	}
	if wait := s.limiter.take(name, s.now()); wait > 0 {
		return nil, status.Errorf(codes.ResourceExhausted,
			"credential %q was refreshed on request less than %v ago; try again in %v", name, RefreshInterval, wait)
	}
	log := s.log.With("credential", name, "peer", peerAddr(ctx))
	log.Info("admin: refresh requested")
	st, err := c.RefreshNow(ctx)
	switch {
	case err == nil:
		m := credentialMessage(name, c.Info(), st)
		log.Info("admin: requested refresh succeeded", "fingerprint", m.GetTokenFingerprint(), "generation", m.GetGeneration())
		return &adminv1.RefreshCredentialResponse{Credential: m}, nil
	case ctx.Err() != nil:
		// The caller gave up; the attempt goes on, and the refresher logs it.
		return nil, status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, ErrNotRefreshable):
		return nil, status.Errorf(codes.FailedPrecondition, "credential %q: %v", name, ErrNotRefreshable)
	case errors.Is(err, tokens.ErrNotRunning):
		return nil, status.Errorf(codes.Unavailable, "credential %q is not refreshing now: the service is starting or stopping", name)
	}
	reason := CleanText(err.Error())
	log.Warn("admin: requested refresh failed", "error", reason)
	return nil, status.Errorf(codes.Unavailable, "refresh of credential %q failed: %s", name, reason)
}

// unknownName is NOT_FOUND's message. It quotes name only when name is a
// well-formed credential name (which no token, JWT or key is), and lists the
// configured names, which are not secret.
func (s *Server) unknownName(name string) string {
	names := make([]string, len(s.creds))
	for i, c := range s.creds {
		names[i] = c.Name()
	}
	configured := "configured: " + strings.Join(names, ", ")
	if !wellFormedName(name) {
		return fmt.Sprintf("no credential by that name (%d bytes, not a credential name: [a-z][a-z0-9-]{0,31}); %s", len(name), configured)
	}
	return fmt.Sprintf("no credential named %q; %s", name, configured)
}

// wellFormedName reports whether name has the grammar of EXTAUTHZ_CREDENTIALS
// names, [a-z][a-z0-9-]{0,31}: bounded, printable, and never the shape of a
// token, JWT or key.
func wellFormedName(name string) bool {
	if len(name) == 0 || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// peerAddr is the caller's address for the log, or "unknown".
func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if a := p.Addr.String(); a != "" {
			return a
		}
		return p.Addr.Network()
	}
	return "unknown"
}

// refreshLimiter allows one requested refresh per credential per
// RefreshInterval.
type refreshLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time // keys: configured names only
}

// take records a requested refresh of name at now and returns 0, or returns
// how long until the next one may run (rounded up to whole seconds) and
// records nothing.
func (l *refreshLimiter) take(name string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.last[name]; ok {
		if wait := last.Add(RefreshInterval).Sub(now); wait > 0 {
			return (wait + time.Second - 1).Truncate(time.Second)
		}
	}
	l.last[name] = now
	return 0
}
