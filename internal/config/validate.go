package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"extauthz/internal/authz"
	"extauthz/internal/tokens"
)

// Identifier shapes from Anthropic's WIF reference: tagged IDs for the rule,
// service account and workspace, a UUID for the organisation.
var (
	ruleIDPattern      = regexp.MustCompile(`^fdrl_[A-Za-z0-9]+$`)
	svacIDPattern      = regexp.MustCompile(`^svac_[A-Za-z0-9]+$`)
	workspaceIDPattern = regexp.MustCompile(`^(wrkspc_[A-Za-z0-9]+|default)$`)
	uuidPattern        = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Validate checks the whole configuration and returns every problem at once
// (errors.Join of *Problem), or nil. It does no network I/O; the only files it
// touches are the AWF_AUTH_OIDC_TOKEN_FILEs, which it stats.
func (c *Config) Validate() error {
	var errs []error
	add := func(v, format string, args ...any) {
		errs = append(errs, &Problem{Var: v, Msg: fmt.Sprintf(format, args...)})
	}
	for _, cred := range c.Credentials {
		cred.validate(add)
	}

	if err := checkListenAddr(c.GRPCAddr, false); err != nil {
		add("EXTAUTHZ_GRPC_ADDR", "%v", err)
	}
	if err := checkListenAddr(c.HTTPAddr, true); err != nil {
		add("EXTAUTHZ_HTTP_ADDR", "%v", err)
	}
	if err := checkListenAddr(c.AdminAddr, true); err != nil {
		add("EXTAUTHZ_ADMIN_ADDR", "%v", err)
	}
	if c.allowedHostsSet && len(c.AllowedHosts) == 0 {
		// Only commas and blanks: refusing it keeps a typo from meaning "any host".
		add("EXTAUTHZ_ALLOWED_HOSTS", "lists no host (unset it to allow any host)")
	}
	for _, h := range c.AllowedHosts {
		if reason := authz.AllowedHostProblem(h); reason != "" {
			add("EXTAUTHZ_ALLOWED_HOSTS", "%q is not a host name: %s (give bare hosts such as api.anthropic.com)", h, reason)
		}
	}
	c.validateCallers(add)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("EXTAUTHZ_LOG_LEVEL", "unknown level %q (want debug, info, warn or error)", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		add("EXTAUTHZ_LOG_FORMAT", "unknown format %q (want json or text)", c.LogFormat)
	}
	return errors.Join(errs...)
}

// validate checks one credential's variables, naming each problem after the
// credential's own variable (Var) and saying when the value came from the
// shared plain variable.
func (c *Credential) validate(addGlobal func(v, format string, args ...any)) {
	add := func(v, format string, args ...any) {
		addGlobal(c.Var(v), "%s%s", fmt.Sprintf(format, args...), c.source(v))
	}
	if c.Provider != "anthropic" {
		add("AWF_AUTH_PROVIDER", "unsupported provider %q (only anthropic is supported)", c.Provider)
	}
	switch c.AuthType {
	case "":
		if c.APIKey.IsZero() {
			add("ANTHROPIC_API_KEY", "required when %s is unset (static-key mode)", c.Var("AWF_AUTH_TYPE"))
		} else if hasControl(c.APIKey.Reveal()) {
			add("ANTHROPIC_API_KEY", "contains control characters or invalid UTF-8 and cannot be sent as a header")
		}
	case TypeGitHubOIDC, TypeOIDCFile:
		c.validateFederation(add)
	default:
		add("AWF_AUTH_TYPE", "unknown type %q (want %s or %s, or unset for static-key mode)",
			c.AuthType, TypeGitHubOIDC, TypeOIDCFile)
	}
}

// validateFederation checks the variables that the WIF types need.
func (c *Credential) validateFederation(add func(v, format string, args ...any)) {
	required := fmt.Sprintf("required when %s=%s", c.Var("AWF_AUTH_TYPE"), c.AuthType)
	switch {
	case c.FederationRuleID == "":
		add("AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "%s", required)
	case !ruleIDPattern.MatchString(c.FederationRuleID):
		add("AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "malformed: want a federation rule ID like fdrl_…")
	}
	switch {
	case c.OrganizationID == "":
		add("AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "%s", required)
	case !uuidPattern.MatchString(c.OrganizationID):
		add("AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "malformed: want the organisation UUID")
	}
	switch {
	case c.ServiceAccountID == "":
		add("AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "%s", required)
	case !svacIDPattern.MatchString(c.ServiceAccountID):
		add("AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "malformed: want a service account ID like svac_…")
	}
	if c.WorkspaceID != "" && !workspaceIDPattern.MatchString(c.WorkspaceID) {
		add("AWF_AUTH_ANTHROPIC_WORKSPACE_ID", "malformed: want wrkspc_… or default")
	}
	if _, err := tokens.CheckEndpointURL(c.TokenURL); err != nil {
		add("AWF_AUTH_ANTHROPIC_TOKEN_URL", "%v", err)
	}
	if c.Audience == "" || hasControl(c.Audience) {
		add("AWF_AUTH_OIDC_AUDIENCE", "must be a non-empty audience string")
	}

	switch c.AuthType {
	case TypeGitHubOIDC:
		hint := required + " (the job needs permissions: id-token: write)"
		if c.ActionsRequestURL == "" {
			add("ACTIONS_ID_TOKEN_REQUEST_URL", "%s", hint)
		} else if _, err := tokens.CheckEndpointURL(c.ActionsRequestURL); err != nil {
			add("ACTIONS_ID_TOKEN_REQUEST_URL", "%v", err)
		}
		if c.ActionsRequestToken.IsZero() {
			add("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "%s", hint)
		} else if hasControl(c.ActionsRequestToken.Reveal()) {
			add("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "contains control characters or invalid UTF-8 and cannot be sent as a header")
		}
	case TypeOIDCFile:
		if c.TokenFile == "" {
			add("AWF_AUTH_OIDC_TOKEN_FILE", "%s", required)
		} else if err := checkTokenFile(c.TokenFile); err != nil {
			add("AWF_AUTH_OIDC_TOKEN_FILE", "%v", err)
		}
	}
}

// checkTokenFile makes sure the identity token file exists and is a file. Its
// content is read at every exchange, not here: the kubelet rotates it.
func checkTokenFile(path string) error {
	fi, err := os.Stat(path) // follows the projected volume's ..data symlinks
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s does not exist (is the projected token volume mounted?)", path)
	case err != nil:
		return fmt.Errorf("cannot stat %s: %w", path, errors.Unwrap(err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// checkListenAddr accepts host:port (port 0–65535) or unix:/absolute/path, and
// "off" where allowed.
func checkListenAddr(addr string, offAllowed bool) error {
	if offAllowed && strings.EqualFold(addr, "off") {
		return nil
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("unix socket path in %q must be absolute (unix:/path)", addr)
		}
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port or unix:/path", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}

// hasControl reports whether s cannot be sent as a header value the way
// authz sends credentials: it holds a control character (CR, LF, NUL, tab,
// DEL…) or is not valid UTF-8. A key that passed here but not there would
// start a service that denies every request.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return !utf8.ValidString(s)
}

// Listener returns the network ("tcp" or "unix") and address for net.Listen.
func Listener(addr string) (network, address string) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return "unix", path
	}
	return "tcp", addr
}
