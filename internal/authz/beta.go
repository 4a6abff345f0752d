package authz

import "strings"

const (
	// oauthBeta is what Anthropic requires next to an OAuth bearer token.
	oauthBeta = "oauth-2025-04-20"
	// federationBeta belongs to the token exchange only; it is never
	// forwarded, whoever sent it.
	federationBeta = "oidc-federation-2026-04-01"
)

// mergeBeta returns the anthropic-beta value to send in WIF mode: the items of
// the client's values in order (each value may be comma-merged), trimmed,
// without empty items, duplicates (the first occurrence wins), items that are
// not valid header text, or the federation flag; then oauthBeta unless the
// client already sent it. Items are comma-joined without spaces.
func mergeBeta(clientValues ...string) string {
	var small [smallBetas]string
	b := betas{items: small[:0]}
	for _, v := range clientValues {
		b = b.add(v)
	}
	return b.result()
}

// betas collects beta items. It is passed and returned by value so that the
// caller's small backing array can stay on its stack: with smallBetas items
// or fewer nothing is allocated but the result.
type betas struct {
	items []string
	seen  map[string]struct{} // built only past smallBetas items
}

// smallBetas is how many items are de-duplicated by a linear scan before a
// map takes over, so a hostile header of thousands of items stays linear.
const smallBetas = 16

// add splits one client value on commas and keeps the items that qualify.
func (b betas) add(value string) betas {
	for value != "" {
		item, rest, _ := strings.Cut(value, ",")
		value = rest
		item = strings.Trim(item, " \t")
		if item == "" || strings.EqualFold(item, federationBeta) || !headerText(item) {
			continue
		}
		b = b.keep(item)
	}
	return b
}

func (b betas) keep(item string) betas {
	if b.seen != nil {
		if _, dup := b.seen[item]; !dup {
			b.seen[item] = struct{}{}
			b.items = append(b.items, item)
		}
		return b
	}
	for _, have := range b.items {
		if have == item {
			return b
		}
	}
	b.items = append(b.items, item)
	if len(b.items) > smallBetas {
		b.seen = make(map[string]struct{}, 2*len(b.items))
		for _, have := range b.items {
			b.seen[have] = struct{}{}
		}
	}
	return b
}

// result adds oauthBeta (if absent) and joins the items.
func (b betas) result() string {
	b = b.keep(oauthBeta)
	if len(b.items) == 1 {
		return b.items[0] // no allocation when the client sent no betas
	}
	return strings.Join(b.items, ",")
}

// appendResult is result appended to dst, for callers that must not keep
// the items' strings (the fast path's alias the request bytes).
func (b betas) appendResult(dst []byte) []byte {
	b = b.keep(oauthBeta)
	for i, item := range b.items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, item...)
	}
	return dst
}
