package config

import (
	"strings"
)

// PrincipalRule is one EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL entry: requests whose
// attributes.source.principal matches Principal use credential Credential.
type PrincipalRule struct {
	// Principal is the peer identity Envoy reports, e.g.
	// spiffe://cluster.local/ns/team-a/sa/agent, without the trailing '*'.
	Principal string
	// Prefix makes Principal match every principal it begins (the entry
	// ended with '*').
	Prefix bool
	// Credential is a name from EXTAUTHZ_CREDENTIALS.
	Credential string
}

// maxPrincipal bounds an entry; SPIFFE IDs are at most 2048 bytes.
const maxPrincipal = 2048

// principalRules parses EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL: PRINCIPAL=NAME
// entries, each naming a configured credential, no principal twice.
func principalRules(entries []string, creds []*Credential, add func(v, format string, args ...any)) []PrincipalRule {
	const v = "EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"
	known := map[string]bool{}
	for _, c := range creds {
		known[c.Name] = true
	}
	var rules []PrincipalRule
	seen := map[string]bool{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		i := strings.LastIndexByte(e, '=')
		if i < 0 {
			add(v, "entry %q is not PRINCIPAL=NAME", truncate(e, 64))
			continue
		}
		p, name := strings.TrimSpace(e[:i]), strings.TrimSpace(e[i+1:])
		r := PrincipalRule{Principal: p, Credential: name}
		if rest, ok := strings.CutSuffix(p, "*"); ok {
			r.Principal, r.Prefix = rest, true
		}
		switch {
		case r.Principal == "" && !r.Prefix:
			add(v, "entry %q has an empty principal", truncate(e, 64))
		case len(p) > maxPrincipal || !printableASCII(p) || strings.Contains(r.Principal, "*"):
			add(v, "principal %q must be printable ASCII without spaces, at most %d bytes, with '*' only at the end", truncate(p, 64), maxPrincipal)
		case !known[name]:
			add(v, "entry for %q names credential %q, which EXTAUTHZ_CREDENTIALS does not list", truncate(p, 64), truncate(name, 64))
		case seen[p]:
			add(v, "names principal %q twice", truncate(p, 64))
		default:
			seen[p] = true
			rules = append(rules, r)
		}
	}
	return rules
}

// printableASCII reports whether s is printable ASCII without spaces.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
