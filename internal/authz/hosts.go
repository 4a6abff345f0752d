package authz

import (
	"fmt"
	"net/netip"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// authorityHeader is the HTTP/2 pseudo-header Envoy also fills for HTTP/1.
const authorityHeader = ":authority"

// hostList is the parsed EXTAUTHZ_ALLOWED_HOSTS. The zero value allows any
// host. It is read-only after newHostList.
type hostList struct {
	names []string     // lower-case DNS names, no trailing dot
	addrs []netip.Addr // IP literals, unmapped, no zone
}

func (l hostList) empty() bool { return len(l.names) == 0 && len(l.addrs) == 0 }

// newHostList validates entries: each must be a DNS name or an IP literal
// (IPv6 with or without brackets), without scheme, port, path or wildcard.
// Empty entries are refused rather than skipped, so a stray "," cannot turn
// into "any host". Each problem wraps ErrInvalidOptions.
func newHostList(entries []string) (hostList, []error) {
	var l hostList
	var errs []error
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		if a, ok := parseAddr(e); ok {
			l.addrs = append(l.addrs, a)
			continue
		}
		if reason := AllowedHostProblem(e); reason != "" {
			errs = append(errs, fmt.Errorf("%w: EXTAUTHZ_ALLOWED_HOSTS entry %q: %s", ErrInvalidOptions, raw, reason))
			continue
		}
		l.names = append(l.names, strings.ToLower(strings.TrimSuffix(e, ".")))
	}
	return l, errs
}

// AllowedHostProblem says why entry (trimmed) cannot be an
// EXTAUTHZ_ALLOWED_HOSTS entry, or "" if it can: a DNS name or an IP literal
// (IPv6 with or without brackets), without scheme, port, path or wildcard.
// Configuration validation calls it so that the service never refuses what
// validation accepted.
func AllowedHostProblem(entry string) string {
	if _, ok := parseAddr(entry); ok {
		return ""
	}
	return badHostName(strings.ToLower(strings.TrimSuffix(entry, ".")))
}

// badHostName says what is wrong with a lower-case DNS name, or "".
func badHostName(name string) string {
	if name == "" {
		return "empty"
	}
	if len(name) > 253 {
		return "longer than 253 bytes"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return "empty label"
		}
		if len(label) > 63 {
			return "label longer than 63 bytes"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("%q is not allowed in a host name (no scheme, port, path or wildcard)", c)
			}
		}
	}
	return ""
}

// allows reports whether host (as hostOf returns it) may receive the
// credential. An empty host is never allowed by a non-empty list.
func (l hostList) allows(host string) bool {
	if host == "" {
		return false
	}
	for _, n := range l.names {
		if equalFoldASCII(host, n) {
			return true
		}
	}
	if len(l.addrs) == 0 {
		return false
	}
	a, ok := parseAddr(host)
	if !ok {
		return false
	}
	for _, want := range l.addrs {
		if a == want {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether host equals name (lower-case ASCII) with
// ASCII letters folded. Host names are ASCII on the wire (IDNs travel as
// punycode); Unicode folding, as strings.EqualFold does, would let a host
// with U+212A KELVIN SIGN pass for one with "k".
func equalFoldASCII(host, name string) bool {
	if len(host) != len(name) {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// requestAuthority is the :authority from headers, else from header_map,
// else attributes.request.http.host — the first non-empty one.
func requestAuthority(http *authv3.AttributeContext_HttpRequest) string {
	if a := http.GetHeaders()[authorityHeader]; a != "" {
		return a
	}
	for _, h := range http.GetHeaderMap().GetHeaders() {
		if h.GetKey() == authorityHeader {
			if v := headerValue(h); v != "" {
				return v
			}
		}
	}
	return http.GetHost()
}

// hostOf strips the port from an authority and the brackets from an IPv6
// literal, and drops a trailing dot: "[::1]:443" → "::1", "::1" → "::1",
// "Example.com.:8443" → "Example.com". Case is kept; matching folds it.
func hostOf(authority string) string {
	h := authority
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return h // malformed: matches nothing
		}
		return h[1:end]
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		h = h[:i] // exactly one colon: host:port. More than one: bare IPv6.
	}
	return strings.TrimSuffix(h, ".")
}

// parseAddr parses an IP literal, with or without IPv6 brackets, and returns
// it unmapped and without zone so that equal addresses compare equal.
func parseAddr(s string) (netip.Addr, bool) {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
