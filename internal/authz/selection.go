package authz

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
)

// CredentialExtension is the context_extensions key that names the
// credential of a route (Envoy's ExtAuthzPerRoute.check_settings).
const CredentialExtension = "credential"

// NamedCredentials is one configured credential: its name (a label in
// logs, metrics and the dynamic metadata), the header it goes in, and where
// Check reads it.
type NamedCredentials struct {
	// Name is the credential's name from EXTAUTHZ_CREDENTIALS, or "default".
	Name string
	// Mode selects the header that carries the credential.
	Mode Mode
	// Credentials is read on every Check that selects this credential; it
	// must not block.
	Credentials Credentials
}

// PrincipalRule maps a peer principal (attributes.source.principal) to a
// credential name: exactly, or every principal that starts with Principal
// when Prefix is set.
type PrincipalRule struct {
	Principal  string
	Prefix     bool
	Credential string
}

// namePattern is what a credential name may be (EXTAUTHZ_CREDENTIALS): a
// metrics label value, a health service suffix and, upper-cased with '-'
// → '_', part of a variable name.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ValidCredentialName reports whether name may name a credential.
func ValidCredentialName(name string) bool { return namePattern.MatchString(name) }

// credential is a configured credential as Check uses it.
type credential struct {
	index  int // in Options.Credentials: the Observer's handle
	name   string
	mode   Mode
	source Credentials
	answer atomic.Pointer[okAnswer] // of the latest generation seen
}

// principalRule is a PrincipalRule resolved to its credential.
type principalRule struct {
	principal string
	prefix    bool
	c         *credential
}

// credentialSet holds the configured credentials and the selection rules.
// It is read-only after newCredentialSet, so Check reads it without a lock.
type credentialSet struct {
	all    []*credential
	byName map[string]*credential
	exact  []principalRule // exact principals first,
	prefix []principalRule // then prefixes, longest first
}

// newCredentialSet validates the credentials and rules; each problem wraps
// ErrInvalidOptions.
func newCredentialSet(creds []NamedCredentials, rules []PrincipalRule) (credentialSet, []error) {
	var errs []error
	set := credentialSet{byName: map[string]*credential{}}
	if len(creds) == 0 {
		errs = append(errs, fmt.Errorf("%w: no credentials", ErrInvalidOptions))
	}
	for i, nc := range creds {
		n := len(errs)
		if !namePattern.MatchString(nc.Name) {
			errs = append(errs, fmt.Errorf("%w: credential name %q is not [a-z][a-z0-9-]{0,31}", ErrInvalidOptions, nc.Name))
		} else if set.byName[nc.Name] != nil {
			errs = append(errs, fmt.Errorf("%w: credential %q configured twice", ErrInvalidOptions, nc.Name))
		}
		if !nc.Mode.valid() {
			errs = append(errs, fmt.Errorf("%w: credential %q: unknown mode %v", ErrInvalidOptions, nc.Name, nc.Mode))
		}
		if nc.Credentials == nil {
			errs = append(errs, fmt.Errorf("%w: credential %q has no source", ErrInvalidOptions, nc.Name))
		}
		if len(errs) == n {
			c := &credential{index: i, name: nc.Name, mode: nc.Mode, source: nc.Credentials}
			set.all = append(set.all, c)
			set.byName[c.name] = c
		}
	}
	for _, r := range rules {
		c := set.byName[r.Credential]
		if c == nil {
			errs = append(errs, fmt.Errorf("%w: principal rule for %q names unknown credential %q", ErrInvalidOptions, r.Principal, r.Credential))
			continue
		}
		pr := principalRule{principal: r.Principal, prefix: r.Prefix, c: c}
		if r.Prefix {
			set.prefix = append(set.prefix, pr)
		} else {
			set.exact = append(set.exact, pr)
		}
	}
	// Longest prefix first: the most specific rule wins.
	slices.SortStableFunc(set.prefix, func(a, b principalRule) int { return len(b.principal) - len(a.principal) })
	return set, errs
}

// selection is why a request got the credential it got, or none.
type selection uint8

const (
	selectedByExtension selection = iota + 1
	selectedByPrincipal
	selectedOnly
	// unknownExtension: context_extensions names no configured credential —
	// an Envoy configuration out of step with extauthz's.
	unknownExtension
	// noCredential: nothing selects one of several credentials.
	noCredential
)

// choose picks the request's credential, first rule that applies
// (design.md, "Several credentials"):
//  1. context_extensions["credential"], set per route in Envoy; an empty
//     value counts as absent;
//  2. EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL against attributes.source.principal:
//     an exact rule, else the longest prefix rule;
//  3. the only credential, when there is exactly one.
//
// It allocates nothing: the map lookup and comparisons read the request's
// strings in place.
func (set *credentialSet) choose(req request) (*credential, selection) {
	if name, ok := req.extension(CredentialExtension); ok && name != "" {
		if c := set.byName[name]; c != nil {
			return c, selectedByExtension
		}
		return nil, unknownExtension
	}
	if len(set.exact)+len(set.prefix) > 0 {
		if p := req.principal(); p != "" {
			for _, r := range set.exact {
				if p == r.principal {
					return r.c, selectedByPrincipal
				}
			}
			for _, r := range set.prefix {
				if strings.HasPrefix(p, r.principal) {
					return r.c, selectedByPrincipal
				}
			}
		}
	}
	if len(set.all) == 1 {
		return set.all[0], selectedOnly
	}
	return nil, noCredential
}
