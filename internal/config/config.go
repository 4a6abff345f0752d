// Package config reads extauthz's configuration from the environment (with
// github.com/sethvargo/go-envconfig) and validates it in one pass that reports
// every problem at once, each naming its variable.
//
// The AWF_AUTH_* names are a public contract: the agentic-workflow compiler
// already emits them for the Node.js api-proxy that extauthz replaces.
package config

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"extauthz/internal/secret"
)

// Authentication types (AWF_AUTH_TYPE).
const (
	// TypeStaticKey is the mode without AWF_AUTH_TYPE: inject ANTHROPIC_API_KEY.
	TypeStaticKey = "static-key"
	// TypeGitHubOIDC mints the identity JWT from the GitHub Actions OIDC API.
	TypeGitHubOIDC = "github-oidc"
	// TypeOIDCFile reads the identity JWT from AWF_AUTH_OIDC_TOKEN_FILE.
	TypeOIDCFile = "oidc-file"
)

// Config is the whole configuration of `extauthz serve`. Every field names the
// variable it comes from; values are trimmed and an empty value counts as unset.
type Config struct {
	// AuthType is AWF_AUTH_TYPE: unset for static-key mode, github-oidc or oidc-file.
	AuthType string `env:"AWF_AUTH_TYPE"`
	// Provider is AWF_AUTH_PROVIDER; only anthropic is supported.
	Provider string `env:"AWF_AUTH_PROVIDER, default=anthropic"`

	// FederationRuleID is AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID (fdrl_…).
	FederationRuleID string `env:"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"`
	// OrganizationID is AWF_AUTH_ANTHROPIC_ORGANIZATION_ID (the organisation UUID).
	OrganizationID string `env:"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"`
	// ServiceAccountID is AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID (svac_…).
	ServiceAccountID string `env:"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"`
	// WorkspaceID is AWF_AUTH_ANTHROPIC_WORKSPACE_ID (wrkspc_… or default); sent only when set.
	WorkspaceID string `env:"AWF_AUTH_ANTHROPIC_WORKSPACE_ID"`
	// TokenURL is AWF_AUTH_ANTHROPIC_TOKEN_URL, the exchange endpoint.
	TokenURL string `env:"AWF_AUTH_ANTHROPIC_TOKEN_URL, default=https://api.anthropic.com/v1/oauth/token"`

	// Audience is AWF_AUTH_OIDC_AUDIENCE, requested from the identity provider.
	Audience string `env:"AWF_AUTH_OIDC_AUDIENCE, default=https://api.anthropic.com"`
	// TokenFile is AWF_AUTH_OIDC_TOKEN_FILE, the JWT file for oidc-file.
	TokenFile string `env:"AWF_AUTH_OIDC_TOKEN_FILE"`
	// ActionsRequestURL is ACTIONS_ID_TOKEN_REQUEST_URL, the GitHub Actions mint endpoint.
	ActionsRequestURL string `env:"ACTIONS_ID_TOKEN_REQUEST_URL"`
	// ActionsRequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN, the mint endpoint's bearer.
	ActionsRequestToken secret.Value `env:"ACTIONS_ID_TOKEN_REQUEST_TOKEN"`

	// APIKey is ANTHROPIC_API_KEY, the real key in static-key mode.
	APIKey secret.Value `env:"ANTHROPIC_API_KEY"`

	// GRPCAddr is EXTAUTHZ_GRPC_ADDR: ext_authz and grpc.health.v1 (host:port or unix:/path).
	GRPCAddr string `env:"EXTAUTHZ_GRPC_ADDR, default=127.0.0.1:9191"`
	// HTTPAddr is EXTAUTHZ_HTTP_ADDR: /healthz, /readyz, /metrics; "off" disables.
	HTTPAddr string `env:"EXTAUTHZ_HTTP_ADDR, default=127.0.0.1:9192"`
	// AllowedHosts is EXTAUTHZ_ALLOWED_HOSTS: hosts that may receive the credential; empty = any.
	AllowedHosts []string `env:"EXTAUTHZ_ALLOWED_HOSTS"`
	// allowedHostsSet records that EXTAUTHZ_ALLOWED_HOSTS was given, so that a
	// value of only commas is refused rather than read as "any host".
	allowedHostsSet bool
	// LogLevel is EXTAUTHZ_LOG_LEVEL: debug, info, warn or error.
	LogLevel string `env:"EXTAUTHZ_LOG_LEVEL, default=info"`
	// LogFormat is EXTAUTHZ_LOG_FORMAT: json or text.
	LogFormat string `env:"EXTAUTHZ_LOG_FORMAT, default=json"`
}

// Load reads the configuration through lookup (os.LookupEnv in production) and
// validates it. The error, if any, joins one *Problem per bad variable.
func Load(ctx context.Context, lookup func(string) (string, bool)) (*Config, error) {
	var c Config
	err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   &c,
		Lookuper: trimmed(lookup),
	})
	if err != nil {
		// go-envconfig stops at its first decoding problem; our fields are
		// strings and secrets, so this is a programming error, not user input.
		return nil, fmt.Errorf("reading environment: %w", err)
	}
	c.normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// trimmed wraps lookup so that values are trimmed and an empty value is unset
// (and so falls back to its default).
func trimmed(lookup func(string) (string, bool)) envconfig.Lookuper {
	return envconfig.LookuperFunc(func(key string) (string, bool) {
		v, ok := lookup(key)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	})
}

// normalize lower-cases the enumerations (EXTAUTHZ_HTTP_ADDR's "off"
// included, so that every later reader compares with "off" alone) and trims
// list entries.
func (c *Config) normalize() {
	if strings.EqualFold(c.HTTPAddr, "off") {
		c.HTTPAddr = "off"
	}
	c.AuthType = strings.ToLower(c.AuthType)
	c.Provider = strings.ToLower(c.Provider)
	c.LogLevel = strings.ToLower(c.LogLevel)
	c.LogFormat = strings.ToLower(c.LogFormat)
	c.allowedHostsSet = len(c.AllowedHosts) > 0
	hosts := c.AllowedHosts[:0]
	for _, h := range c.AllowedHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			hosts = append(hosts, h)
		}
	}
	c.AllowedHosts = hosts
}

// Type is the effective authentication type: TypeStaticKey when AWF_AUTH_TYPE
// is unset.
func (c *Config) Type() string {
	if c.AuthType == "" {
		return TypeStaticKey
	}
	return c.AuthType
}

// Problem is one configuration error, naming its variable.
type Problem struct {
	Var string // the environment variable
	Msg string // what is wrong, never the value of a secret
}

// Error implements error as "VAR: message".
func (p *Problem) Error() string { return p.Var + ": " + p.Msg }

// Problems unpacks the one-per-variable problems from an error returned by
// Load or Validate.
func Problems(err error) []*Problem {
	var out []*Problem
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	var p *Problem
	if errors.As(err, &p) {
		out = append(out, p)
	}
	return out
}
