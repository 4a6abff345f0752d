package service

import (
	"fmt"
	"log/slog"
	"time"

	"extauthz/internal/authz"
	"extauthz/internal/config"
	"extauthz/internal/feedback"
	"extauthz/internal/tokens"
)

// credential is one configured credential as the service runs it: a static
// key, or a refresher that keeps a WIF token fresh.
type credential struct {
	cfg       *config.Credential
	mode      authz.Mode
	check     authz.Credentials // what Check reads
	refresher *tokens.Refresher // nil for a static key
}

// servable reports whether Check can hand the credential out at now.
func (c *credential) servable(now time.Time) bool {
	_, _, ok := c.check.Credential(now)
	return ok
}

// buildCredential chooses the implementation for the credential's type,
// once, at startup. index is its place in the configuration (and in the
// metrics).
func (s *Service) buildCredential(index int, cfg *config.Credential, o Options) (*credential, error) {
	c := &credential{cfg: cfg, mode: authz.ModeWIF}
	var source tokens.IdentitySource
	switch cfg.Type() {
	case config.TypeStaticKey:
		c.mode, c.check = authz.ModeStaticKey, authz.StaticKey(cfg.APIKey)
		return c, nil
	case config.TypeGitHubOIDC:
		gh, err := tokens.NewGitHubActions(cfg.ActionsRequestURL, cfg.ActionsRequestToken, cfg.Audience, o.HTTPClient)
		if err != nil {
			return nil, fmt.Errorf("github-oidc source: %w", err)
		}
		source = gh
	case config.TypeOIDCFile:
		source = tokens.NewTokenFile(cfg.TokenFile)
	default:
		return nil, fmt.Errorf("unknown authentication type %q", cfg.Type())
	}
	ex, err := tokens.NewAnthropicExchanger(tokens.AnthropicConfig{
		TokenURL:         cfg.TokenURL,
		FederationRuleID: cfg.FederationRuleID,
		OrganizationID:   cfg.OrganizationID,
		ServiceAccountID: cfg.ServiceAccountID,
		WorkspaceID:      cfg.WorkspaceID,
		UserAgent:        "extauthz/" + o.Version,
	}, o.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("anthropic exchanger: %w", err)
	}
	c.refresher, err = tokens.NewRefresher(tokens.RefresherOptions{
		Name:      cfg.Name,
		Source:    source,
		Exchanger: ex,
		Logger:    s.log,
		Observer:  observers{s.metrics.Tokens(index), healthUpdater{s}, s.changes.Observer(cfg.Name)},
	})
	if err != nil {
		return nil, fmt.Errorf("refresher: %w", err)
	}
	c.check = refresherCredentials{c.refresher}
	return c, nil
}

// describeCredentials is the credentials for the startup log line: name,
// type and service account, never a secret.
func (s *Service) describeCredentials() slog.Attr {
	var out []any
	for _, c := range s.creds {
		out = append(out, slog.Group(c.cfg.Name, "type", c.cfg.Type(), "service_account", c.cfg.ServiceAccountID))
	}
	return slog.Group("credentials", out...)
}

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

// feedbackCredentials lets upstream 401s reported in Envoy's access logs
// invalidate the credential whose token they carried.
type feedbackCredentials []*credential

// Invalidate implements feedback.Credentials: the refresher acts only on its
// current generation, at most once per 30 s; a static key has nothing to
// refresh.
func (cs feedbackCredentials) Invalidate(name string, generation uint64) bool {
	for _, c := range cs {
		if c.cfg.Name == name {
			if c.refresher != nil && generation != feedback.NoGeneration {
				c.refresher.Invalidate(generation)
			}
			return true
		}
	}
	return false
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

// healthUpdater follows the refreshers' readiness in grpc.health.v1.
type healthUpdater struct{ s *Service }

// ExchangeFinished implements tokens.Observer.
func (healthUpdater) ExchangeFinished(tokens.Outcome, time.Duration) {}

// StatusChanged implements tokens.Observer.
func (h healthUpdater) StatusChanged(tokens.Status) { h.s.updateHealth() }
