package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"regexp"
	"slices"
	"time"

	"extauthz/internal/secret"
)

// Options configures an Emulator. The zero value is a usable emulator on a
// random loopback port with a random identity.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0". It must be a
	// loopback address unless AllowNonLoopback is set.
	Addr string
	// AllowNonLoopback permits a non-loopback Addr (for a compose stack).
	AllowNonLoopback bool
	// TokenLifetime is the expires_in of minted access tokens, truncated to
	// whole seconds; default 20 s. The real endpoint's floor is 60 s; it is
	// short here so refreshes are visible.
	TokenLifetime time.Duration
	// JWTLifetime is the lifetime of minted identity JWTs; default 5 min,
	// like GitHub's.
	JWTLifetime time.Duration
	// Audience is the audience the token endpoint requires in a JWT's aud;
	// default "https://api.anthropic.com".
	Audience string
	// RequestToken is the bearer the mint endpoint requires (what GitHub
	// gives a job as ACTIONS_ID_TOKEN_REQUEST_TOKEN); random when zero.
	RequestToken secret.Value
	// FederationRuleID is the only federation_rule_id the token endpoint
	// accepts (fdrl_…); random when empty.
	FederationRuleID string
	// OrganizationID is the only organization_id it accepts (a UUID,
	// compared case-insensitively); random when empty.
	OrganizationID string
	// ServiceAccountID is the service_account_id of a single credential
	// (svac_…); random when empty. The token endpoint accepts it and those of
	// ServiceAccounts, and no other.
	ServiceAccountID string
	// ServiceAccounts are further service accounts the token endpoint
	// accepts, keyed by the name of the extauthz credential that uses each
	// (EXTAUTHZ_CREDENTIALS, [a-z][a-z0-9-]{0,31}); an empty ID is random.
	// With them, several credentials exchange for several service accounts,
	// as in production, and ServiceAccountOf tells their tokens apart.
	ServiceAccounts map[string]string
	// Logger receives the emulator's logs; default slog.Default(). It never
	// sees a token, a JWT or the request token, only their fingerprints.
	Logger *slog.Logger

	// now is the clock for minting and expiry checks; tests inject one.
	now func() time.Time
}

const (
	defaultAddr          = "127.0.0.1:0"
	defaultTokenLifetime = 20 * time.Second
	defaultJWTLifetime   = 5 * time.Minute
	defaultAudience      = "https://api.anthropic.com"
)

// credentialName is the grammar of an extauthz credential name.
var credentialName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// OptionError is one unusable Options field. Start returns every one it
// finds, joined, before it listens; OptionErrors unpacks them.
type OptionError struct {
	// Field is the Options field, e.g. "FederationRuleID"; for one entry of
	// ServiceAccounts, "ServiceAccounts.<name>".
	Field string
	// Reason says what is wrong, never the value of a secret.
	Reason string
	// Err is the sentinel behind the problem, if any (ErrNotLoopback).
	Err error
}

// Error implements error as "emulator: Field: reason".
func (e *OptionError) Error() string { return "emulator: " + e.Field + ": " + e.Reason }

// Unwrap returns Err, so that errors.Is(err, ErrNotLoopback) works.
func (e *OptionError) Unwrap() error { return e.Err }

// OptionErrors returns the *OptionError values in err (one per bad field),
// in the order Start found them.
func OptionErrors(err error) []*OptionError {
	var out []*OptionError
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			out = append(out, OptionErrors(e)...)
		}
		return out
	}
	if oe, ok := errors.AsType[*OptionError](err); ok {
		out = append(out, oe)
	}
	return out
}

// withDefaults fills unset fields and rejects values that cannot work: an
// identity the emulator's own token endpoint would refuse as malformed, or a
// lifetime under a second.
func (o Options) withDefaults() (Options, error) {
	var problems []error
	bad := func(field, format string, args ...any) {
		problems = append(problems, &OptionError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if host, _, err := net.SplitHostPort(o.Addr); err != nil {
		bad("Addr", "%q is not host:port", o.Addr)
	} else if !o.AllowNonLoopback && !isLoopbackHost(host) {
		problems = append(problems, &OptionError{Field: "Addr", Err: ErrNotLoopback,
			Reason: fmt.Sprintf("%q is not a loopback address (set AllowNonLoopback to permit it)", o.Addr)})
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = defaultTokenLifetime
	}
	if o.JWTLifetime == 0 {
		o.JWTLifetime = defaultJWTLifetime
	}
	if o.TokenLifetime < time.Second {
		bad("TokenLifetime", "%v is under 1s", o.TokenLifetime)
	}
	if o.JWTLifetime < time.Second {
		bad("JWTLifetime", "%v is under 1s", o.JWTLifetime)
	}
	switch {
	case o.Audience == "":
		o.Audience = defaultAudience
	case hasControl(o.Audience):
		bad("Audience", "contains control characters")
	}
	switch {
	case o.RequestToken.IsZero():
		o.RequestToken = secret.New(randomToken())
	case hasControl(o.RequestToken.Reveal()):
		bad("RequestToken", "contains control characters and cannot be sent as a header")
	}
	tagged := func(prefix string) func(string) bool {
		return func(s string) bool { return isTaggedID(s, prefix) }
	}
	for _, id := range []struct {
		field  string
		value  *string
		valid  func(string) bool
		random func() string
		want   string
	}{
		{"FederationRuleID", &o.FederationRuleID, tagged("fdrl_"), func() string { return "fdrl_" + randomID() }, "fdrl_ followed by 1–128 letters and digits"},
		{"OrganizationID", &o.OrganizationID, isUUID, randomUUID, "a UUID"},
		{"ServiceAccountID", &o.ServiceAccountID, tagged("svac_"), func() string { return "svac_" + randomID() }, "svac_ followed by 1–128 letters and digits"},
	} {
		switch {
		case *id.value == "":
			*id.value = id.random()
		case !id.valid(*id.value):
			bad(id.field, "malformed: want %s", id.want)
		}
	}
	o.ServiceAccounts = maps.Clone(o.ServiceAccounts)
	for _, name := range slices.Sorted(maps.Keys(o.ServiceAccounts)) {
		switch id := o.ServiceAccounts[name]; {
		case !credentialName.MatchString(name):
			bad("ServiceAccounts", "credential name %q: want [a-z][a-z0-9-]{0,31}", name)
		case id == "":
			o.ServiceAccounts[name] = "svac_" + randomID()
		case !isTaggedID(id, "svac_"):
			bad("ServiceAccounts."+name, "malformed: want svac_ followed by 1–128 letters and digits")
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o, errors.Join(problems...)
}

// hasControl reports whether s holds bytes that cannot appear in a header
// value or a query parameter sent as one: controls other than tab, and DEL.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}
