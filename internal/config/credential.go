package config

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"extauthz/internal/authz"
	"extauthz/internal/secret"
)

// DefaultCredential is the name of the one credential configured when
// EXTAUTHZ_CREDENTIALS is unset.
const DefaultCredential = "default"

// Credential is one credential's configuration: the variables of the
// api-proxy contract, read first with the credential's prefix
// (EXTAUTHZ_<NAME>_AWF_AUTH_TYPE) and then without it (AWF_AUTH_TYPE), so
// that values every credential shares are given once.
type Credential struct {
	// Name is the credential's name from EXTAUTHZ_CREDENTIALS, or "default".
	Name string

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

	// prefix is EXTAUTHZ_<NAME>_, or "" when EXTAUTHZ_CREDENTIALS is unset
	// and the one credential reads the plain variables.
	prefix string
	// from records, for each variable that was set, the name it was read
	// from: the prefixed one or the shared plain one.
	from map[string]string
}

// Type is the effective authentication type: TypeStaticKey when
// AWF_AUTH_TYPE is unset.
func (c *Credential) Type() string {
	if c.AuthType == "" {
		return TypeStaticKey
	}
	return c.AuthType
}

// Var is the name to report a problem with variable v under: the
// credential's prefixed name (EXTAUTHZ_TEAM_A_AWF_AUTH_TYPE) when several
// credentials are configured, else v itself.
func (c *Credential) Var(v string) string { return c.prefix + v }

// source says where a set variable's value came from when that is not the
// name Var reports, for problem messages: " (value from AWF_AUTH_TYPE,
// shared by every credential)". It names variables, never values.
func (c *Credential) source(v string) string {
	from, ok := c.from[v]
	switch {
	case ok && from != c.Var(v):
		return " (value from " + from + ", shared by every credential)"
	case !ok && c.prefix != "":
		return " (or set " + v + " for every credential)"
	}
	return ""
}

// credentialVars are the variables a Credential reads, from its env tags.
var credentialVars = func() []string {
	var vars []string
	t := reflect.TypeFor[Credential]()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		if tag != "" {
			vars = append(vars, tag)
		}
	}
	return vars
}()

// CredentialVariable reports whether name configures a credential: one of
// the api-proxy variables (AWF_AUTH_TYPE, ANTHROPIC_API_KEY, …), one of them
// under any credential's prefix (EXTAUTHZ_TEAM_A_AWF_AUTH_TYPE), or
// EXTAUTHZ_CREDENTIALS and EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL. dev keeps
// every such variable from the environment out: its credentials are the
// emulator's.
func CredentialVariable(name string) bool {
	if name == "EXTAUTHZ_CREDENTIALS" || name == "EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL" {
		return true
	}
	for _, v := range credentialVars {
		if name == v || strings.HasPrefix(name, "EXTAUTHZ_") && strings.HasSuffix(name, "_"+v) {
			return true
		}
	}
	return false
}

// credentialPrefix is the variable prefix of a credential name: team-a →
// EXTAUTHZ_TEAM_A_.
func credentialPrefix(name string) string {
	return "EXTAUTHZ_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_"
}

// loadCredential reads one credential. With prefix "" it reads the plain
// variables only; otherwise each variable with the prefix first, then
// without it (go-envconfig's prefix and multi lookupers), recording which
// name supplied each value.
func loadCredential(ctx context.Context, name, prefix string, base envconfig.Lookuper) (*Credential, error) {
	c := &Credential{Name: name, prefix: prefix, from: map[string]string{}}
	seen := envconfig.LookuperFunc(func(key string) (string, bool) {
		v, ok := base.Lookup(key)
		if ok {
			c.from[strings.TrimPrefix(key, prefix)] = key
		}
		return v, ok
	})
	// The prefixed lookup runs first and records its hit; a later plain hit
	// cannot overwrite it because MultiLookuper stops at the first.
	var l envconfig.Lookuper = seen
	if prefix != "" {
		l = envconfig.MultiLookuper(envconfig.PrefixLookuper(prefix, seen), seen)
	}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: c, Lookuper: l}); err != nil {
		return nil, fmt.Errorf("reading credential %s: %w", name, err)
	}
	c.AuthType = strings.ToLower(c.AuthType)
	c.Provider = strings.ToLower(c.Provider)
	return c, nil
}

// credentialNames validates EXTAUTHZ_CREDENTIALS' entries: well-formed,
// unique, at least one.
func credentialNames(entries []string, add func(v, format string, args ...any)) []string {
	const v = "EXTAUTHZ_CREDENTIALS"
	var names []string
	seen := map[string]bool{}
	empty := false
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			empty = true
		case !authz.ValidCredentialName(e):
			add(v, "%q is not a credential name: want a lower-case letter, then up to 31 lower-case letters, digits or '-'", truncate(e, 64))
		case seen[e]:
			add(v, "names %q twice", e)
		default:
			seen[e] = true
			names = append(names, e)
		}
	}
	switch {
	case len(entries) > 0 && len(seen) == 0 && empty:
		add(v, "lists no credential (unset it for the one credential %q)", DefaultCredential)
	case empty:
		add(v, "has an empty entry (names are separated by single commas)")
	}
	return names
}

// strayCredentialVars finds per-credential variables whose prefix names no
// configured credential — a typo, or a name missing from
// EXTAUTHZ_CREDENTIALS — which would otherwise be silently ignored.
func strayCredentialVars(names []string, creds []*Credential, add func(v, format string, args ...any)) {
	prefixes := map[string]bool{}
	for _, c := range creds {
		if c.prefix != "" {
			prefixes[c.prefix] = true
		}
	}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, "EXTAUTHZ_")
		if !ok {
			continue
		}
		for _, v := range credentialVars {
			mid, ok := strings.CutSuffix(rest, "_"+v)
			if !ok || mid == "" {
				continue
			}
			if !prefixes["EXTAUTHZ_"+mid+"_"] {
				if len(prefixes) == 0 {
					add(n, "is a per-credential variable, but EXTAUTHZ_CREDENTIALS is unset: set %s, or list the credential in EXTAUTHZ_CREDENTIALS", v)
				} else {
					add(n, "names a credential that EXTAUTHZ_CREDENTIALS does not list")
				}
			}
			break
		}
	}
}

// truncate bounds a user-given string quoted in a problem message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
