package callerauth

import (
	"strconv"
	"strings"
)

// SPIFFE ID limits and syntax, from the SPIFFE ID specification
// (spiffe/spiffe standards/SPIFFE-ID.md: §2 no query or fragment, §2.1 the
// trust domain is the URI's host with no userinfo or port, §2.2 path, §2.3
// 2048 bytes in all and 255 for the trust domain) and its character rules
// (trust domain: a-z 0-9 . - _; path segments: a-z A-Z 0-9 . - _; no empty,
// "." or ".." segments, so no "//" and no trailing "/").
const (
	spiffeScheme      = "spiffe://"
	maxSPIFFEIDLen    = 2048
	maxTrustDomainLen = 255
)

// spiffeIDProblem returns "" if id is a SPIFFE ID, else why it is not. It is
// strict: one spelling per identity, so that comparing strings is comparing
// identities (no case folding, no percent-encoding, no dot segments).
func spiffeIDProblem(id string) string {
	if len(id) > maxSPIFFEIDLen {
		return "longer than 2048 bytes"
	}
	rest, ok := strings.CutPrefix(id, spiffeScheme)
	if !ok {
		return `does not start with "spiffe://" (lower-case)`
	}
	td, path, hasPath := strings.Cut(rest, "/")
	if td == "" {
		return "has no trust domain"
	}
	if len(td) > maxTrustDomainLen {
		return "trust domain longer than 255 bytes"
	}
	for i := 0; i < len(td); i++ {
		if c := td[i]; !isTrustDomainChar(c) {
			return badChar(c, "trust domain", "letters in a trust domain must be lower-case")
		}
	}
	if !hasPath {
		return ""
	}
	for seg := range strings.SplitSeq(path, "/") {
		switch seg {
		case "":
			return `has an empty path segment ("//" or a trailing "/")`
		case ".", "..":
			return `has a "." or ".." path segment`
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isPathChar(c) {
				return badChar(c, "path", "")
			}
		}
	}
	return ""
}

func isTrustDomainChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_'
}

func isPathChar(c byte) bool {
	return isTrustDomainChar(c) || 'A' <= c && c <= 'Z'
}

// badChar explains why c may not stand in part of a SPIFFE ID.
func badChar(c byte, part, upperHint string) string {
	switch {
	case c == ':':
		return "has a port or a ':' (a SPIFFE ID has no port)"
	case c == '@':
		return "has userinfo or an '@' (a SPIFFE ID has none)"
	case c == '?':
		return "has a query (a SPIFFE ID has none)"
	case c == '#':
		return "has a fragment (a SPIFFE ID has none)"
	case c == '%':
		return "has percent-encoding (not allowed in a SPIFFE ID)"
	case c == '*':
		return `has a '*' (only a final "/*" is allowed, to match every ID below a path)`
	case 'A' <= c && c <= 'Z' && upperHint != "":
		return "has upper-case letters: " + upperHint
	case c >= 0x80:
		return "has a non-ASCII byte in the " + part
	}
	return "has " + strconv.QuoteRune(rune(c)) + " in the " + part + " (allowed: letters, digits, '.', '-', '_')"
}
