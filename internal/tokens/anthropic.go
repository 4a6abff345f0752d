package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"extauthz/internal/secret"
)

// Wire constants of the Anthropic WIF exchange.
const (
	jwtBearerGrant   = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	exchangeBetas    = "oauth-2025-04-20,oidc-federation-2026-04-01"
	maxAssertionSize = 16 << 10
	// exchangeTimeout bounds one exchange even when the caller's context has
	// no deadline; the Refresher's attempt budget is usually tighter.
	exchangeTimeout  = 10 * time.Second
	defaultUserAgent = "extauthz"
)

// AnthropicConfig names the federation rule and the identities the exchange
// asks for.
type AnthropicConfig struct {
	TokenURL                                                        string
	FederationRuleID, OrganizationID, ServiceAccountID, WorkspaceID string // WorkspaceID sent only when non-empty
	UserAgent                                                       string // default "extauthz"
}

// AnthropicExchanger exchanges an OIDC JWT for an Anthropic access token at
// the Workload Identity Federation token endpoint. It is safe for concurrent
// use and keeps no state between calls.
type AnthropicExchanger struct {
	url       string
	userAgent string
	body      exchangeRequest // every field but Assertion, fixed at construction
	client    *http.Client
}

var _ Exchanger = (*AnthropicExchanger)(nil)

// exchangeRequest is the JSON body; the gateway drops any other key, and
// scope is never sent (the rule decides it).
type exchangeRequest struct {
	GrantType        string `json:"grant_type"`
	Assertion        string `json:"assertion"`
	FederationRuleID string `json:"federation_rule_id"`
	OrganizationID   string `json:"organization_id"`
	ServiceAccountID string `json:"service_account_id"`
	WorkspaceID      string `json:"workspace_id,omitempty"`
}

// NewAnthropicExchanger checks cfg (the token URL by CheckEndpointURL; rule,
// organisation and service account present) and returns an exchanger that
// sends through client (http.DefaultTransport when nil) without following
// redirects.
func NewAnthropicExchanger(cfg AnthropicConfig, client *http.Client) (*AnthropicExchanger, error) {
	var problems []error
	u, err := CheckEndpointURL(cfg.TokenURL)
	if err != nil {
		problems = append(problems, fmt.Errorf("token URL: %w", err))
	}
	for _, f := range []struct{ name, value string }{
		{"federation rule ID", cfg.FederationRuleID},
		{"organization ID", cfg.OrganizationID},
		{"service account ID", cfg.ServiceAccountID},
	} {
		if f.value == "" {
			problems = append(problems, fmt.Errorf("%s is required", f.name))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	return &AnthropicExchanger{
		url:       u.String(),
		userAgent: ua,
		body: exchangeRequest{
			GrantType:        jwtBearerGrant,
			FederationRuleID: cfg.FederationRuleID,
			OrganizationID:   cfg.OrganizationID,
			ServiceAccountID: cfg.ServiceAccountID,
			WorkspaceID:      cfg.WorkspaceID,
		},
		client: noRedirects(client),
	}, nil
}

// Exchange presents assertion once and returns the grant. An assertion over
// 16 KiB is refused before any request (ErrAssertionTooLarge). A non-200
// reply is an *ExchangeError; a 200 that is not a valid grant wraps
// ErrMalformedResponse; a body over 64 KiB wraps ErrResponseTooLarge.
func (x *AnthropicExchanger) Exchange(ctx context.Context, assertion secret.Value) (Grant, error) {
	if assertion.IsZero() {
		return Grant{}, fmt.Errorf("token exchange: %w", ErrEmptyIdentityToken)
	}
	if assertion.Len() > maxAssertionSize {
		return Grant{}, fmt.Errorf("token exchange: %w (%d bytes)", ErrAssertionTooLarge, assertion.Len())
	}
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()

	body := x.body
	body.Assertion = assertion.Reveal() // the assertion leaves the process here, in the body only
	payload, err := json.Marshal(body)
	if err != nil {
		return Grant{}, fmt.Errorf("token exchange: encoding request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.url, bytes.NewReader(payload))
	if err != nil {
		return Grant{}, fmt.Errorf("token exchange: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Anthropic-Beta", exchangeBetas)
	req.Header.Set("User-Agent", x.userAgent)

	resp, err := x.client.Do(req)
	if err != nil {
		return Grant{}, fmt.Errorf("token exchange: %w", err)
	}
	defer resp.Body.Close()
	data, readErr := readBody(resp.Body, maxBodyBytes)
	if resp.StatusCode != http.StatusOK {
		if readErr != nil {
			data = nil // keep nothing from a body we could not read whole
		}
		return Grant{}, parseExchangeError(resp.StatusCode, resp.Header, data, time.Now())
	}
	if readErr != nil {
		return Grant{}, fmt.Errorf("token exchange: %w", readErr)
	}
	grant, err := parseTokenResponse(data)
	if err != nil {
		return Grant{}, fmt.Errorf("token exchange: %w", err)
	}
	return grant, nil
}
