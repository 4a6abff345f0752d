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
	"strconv"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"extauthz/internal/callerauth"
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
	// Credentials are the credentials in EXTAUTHZ_CREDENTIALS order, or the one
	// credential "default" when it is unset. Never empty after Load.
	Credentials []*Credential
	// CredentialNames is EXTAUTHZ_CREDENTIALS as given (validated into Credentials).
	CredentialNames []string `env:"EXTAUTHZ_CREDENTIALS"`
	// CredentialByPrincipal is EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL, parsed.
	CredentialByPrincipal []PrincipalRule
	// principalEntries is EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL as given.
	principalEntries []string

	// GRPCAddr is EXTAUTHZ_GRPC_ADDR: ext_authz, access logs and grpc.health.v1 (host:port or unix:/path).
	GRPCAddr string `env:"EXTAUTHZ_GRPC_ADDR, default=127.0.0.1:9191"`
	// HTTPAddr is EXTAUTHZ_HTTP_ADDR: /healthz, /readyz, /metrics; "off" disables.
	HTTPAddr string `env:"EXTAUTHZ_HTTP_ADDR, default=127.0.0.1:9192"`
	// AdminAddr is EXTAUTHZ_ADMIN_ADDR: the admin API (host:port or unix:/path); "off" disables.
	AdminAddr string `env:"EXTAUTHZ_ADMIN_ADDR, default=127.0.0.1:9193"`
	// AllowedHosts is EXTAUTHZ_ALLOWED_HOSTS: hosts that may receive the credential; empty = any.
	AllowedHosts []string `env:"EXTAUTHZ_ALLOWED_HOSTS"`
	// allowedHostsSet records that EXTAUTHZ_ALLOWED_HOSTS was given, so that a
	// value of only commas is refused rather than read as "any host".
	allowedHostsSet bool

	// TLSCertFile is EXTAUTHZ_TLS_CERT_FILE: the gRPC and admin listeners' PEM certificate chain.
	TLSCertFile string `env:"EXTAUTHZ_TLS_CERT_FILE"`
	// TLSKeyFile is EXTAUTHZ_TLS_KEY_FILE: the PEM private key of TLSCertFile.
	TLSKeyFile string `env:"EXTAUTHZ_TLS_KEY_FILE"`
	// TLSClientCAFile is EXTAUTHZ_TLS_CLIENT_CA_FILE: client certificates are required and verified against it.
	TLSClientCAFile string `env:"EXTAUTHZ_TLS_CLIENT_CA_FILE"`
	// AllowedCallers is EXTAUTHZ_ALLOWED_CALLERS: who may call Check and stream access logs; empty = anyone who can connect.
	AllowedCallers []string `env:"EXTAUTHZ_ALLOWED_CALLERS"`
	// allowedCallersSet records that EXTAUTHZ_ALLOWED_CALLERS was given.
	allowedCallersSet bool
	// callers is AllowedCallers parsed; nil when the list is empty. (An
	// exported struct pointer would be filled by go-envconfig.)
	callers *callerauth.AllowList
	// AllowUnauthenticatedCallers is EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS: a
	// non-loopback TCP listener may run without client certificates.
	AllowUnauthenticatedCallers Bool `env:"EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS"`

	// LogLevel is EXTAUTHZ_LOG_LEVEL: debug, info, warn or error.
	LogLevel string `env:"EXTAUTHZ_LOG_LEVEL, default=info"`
	// LogFormat is EXTAUTHZ_LOG_FORMAT: json or text.
	LogFormat string `env:"EXTAUTHZ_LOG_FORMAT, default=json"`
}

// Load reads the configuration from env (OSEnv in production) and validates
// it. The error, if any, joins one *Problem per bad variable.
func Load(ctx context.Context, env Env) (*Config, error) {
	var c Config
	base := trimmed(env.Lookup)
	var errs []error
	add := func(v, format string, args ...any) {
		errs = append(errs, &Problem{Var: v, Msg: fmt.Sprintf(format, args...)})
	}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: base}); err != nil {
		// Every field is a string, a list or a type whose decoder cannot
		// fail: this is a programming error, not user input.
		return nil, fmt.Errorf("reading environment: %w", err)
	}
	c.principalEntries = splitList(base, "EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL")
	c.normalize()

	names := credentialNames(c.CredentialNames, add)
	if c.CredentialNames == nil {
		cred, err := loadCredential(ctx, DefaultCredential, "", base)
		if err != nil {
			return nil, err
		}
		c.Credentials = []*Credential{cred}
	}
	for _, n := range names {
		cred, err := loadCredential(ctx, n, credentialPrefix(n), base)
		if err != nil {
			return nil, err
		}
		c.Credentials = append(c.Credentials, cred)
	}
	strayCredentialVars(env.Names(), c.Credentials, add)
	c.CredentialByPrincipal = principalRules(c.principalEntries, c.Credentials, add)
	if err := errors.Join(append(errs, c.Validate())...); err != nil {
		return nil, err
	}
	return &c, nil
}

// splitList reads a comma list the way go-envconfig reads []string.
func splitList(l envconfig.Lookuper, key string) []string {
	v, ok := l.Lookup(key)
	if !ok {
		return nil
	}
	return strings.Split(v, ",")
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

// normalize lower-cases the enumerations (EXTAUTHZ_HTTP_ADDR's and
// EXTAUTHZ_ADMIN_ADDR's "off" included, so that every later reader compares
// with "off" alone) and trims list entries.
func (c *Config) normalize() {
	for _, addr := range []*string{&c.HTTPAddr, &c.AdminAddr} {
		if strings.EqualFold(*addr, "off") {
			*addr = "off"
		}
	}
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
	c.allowedCallersSet = len(c.AllowedCallers) > 0
	callers := c.AllowedCallers[:0]
	for _, e := range c.AllowedCallers {
		if e = strings.TrimSpace(e); e != "" {
			callers = append(callers, e)
		}
	}
	c.AllowedCallers = callers
}

// Callers is EXTAUTHZ_ALLOWED_CALLERS parsed, or nil when it is empty:
// anyone who can connect may call Check.
func (c *Config) Callers() *callerauth.AllowList { return c.callers }

// Credential returns the credential called name, or nil.
func (c *Config) Credential(name string) *Credential {
	for _, cred := range c.Credentials {
		if cred.Name == name {
			return cred
		}
	}
	return nil
}

// Bool is a boolean variable. It decodes any value without failing, so that
// a bad value is reported by Validate with every other problem instead of
// stopping go-envconfig before the remaining variables are read.
type Bool struct {
	value, invalid bool
}

// EnvDecode implements go-envconfig's Decoder with strconv.ParseBool.
func (b *Bool) EnvDecode(val string) error {
	v, err := strconv.ParseBool(strings.TrimSpace(val))
	*b = Bool{value: v, invalid: err != nil}
	return nil
}

// True reports whether the variable is set to a true value.
func (b Bool) True() bool { return b.value && !b.invalid }

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
