package authz

import (
	"fmt"
	"net/netip"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// authorityHeader is the HTTP/2 pseudo-header Envoy also fills for HTTP/1.
const authorityHeader = ":authority"

// The EXTAUTHZ_ALLOWED_HOSTS check reads the request's authority by one
// strict grammar (RFC 3986 §3.2.2 and §3.2.3, restricted to what names a
// host on the network), and anything outside it is denied, never guessed at:
//
//	authority = host [ ":" port ]
//	host      = name / IPv4 / "[" IPv6 "]"
//	name      = label *( "." label ) [ "." ]    ; letters, digits, '-', '_';
//	                                            ; labels 1–63 bytes, at most 253
//	                                            ; bytes without the one trailing dot
//	IPv4      = four decimal numbers 0–255 without leading zeros, no trailing dot
//	IPv6      = an RFC 4291 text form, without zone
//	port      = 1–5 digits, 1–65535, no leading zero
//
// So no userinfo, path, query, fragment, percent-encoding, whitespace,
// control or non-ASCII byte; no empty port ("host:"); no bare IPv6 (RFC 3986
// brackets it in an authority); a bracket only around IPv6; and no name whose
// last label is a number ("0177.0.0.1", "127.1", "0x7f.1"): resolvers and
// URL parsers read those as IPv4 addresses in other notations, so they are
// neither a DNS name nor certainly the address written.
//
// Envoy does not hold :authority to such a grammar: it checks characters
// only, and its sets admit ':', '@', '[', ']' and '%' anywhere (envoy
// source/common/http/header_utility.cc, HeaderUtility::authorityIsValid:
// check_authority_h1_h2's table, or quiche's
// http2/adapter/header_validator.cc HeaderValidator::IsValidAuthority).
// Hence this check, and the fuzz target that holds it to a second reading of
// the grammar (FuzzAuthority).

// hostList is the parsed EXTAUTHZ_ALLOWED_HOSTS. The zero value allows any
// host. It is read-only after newHostList.
type hostList struct {
	names []string     // lower-case DNS names, no trailing dot
	addrs []netip.Addr // IP literals, no zone; an IPv4-mapped IPv6 address stays IPv6
}

func (l hostList) empty() bool { return len(l.names) == 0 && len(l.addrs) == 0 }

// newHostList validates entries: each must be a DNS name or an IP literal
// (IPv6 with or without brackets), without scheme, port, path, zone or
// wildcard. Empty entries are refused rather than skipped, so a stray ","
// cannot turn into "any host". Each problem wraps ErrInvalidOptions.
func newHostList(entries []string) (hostList, []error) {
	var l hostList
	var errs []error
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		if a, ok := entryAddr(e); ok {
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
// EXTAUTHZ_ALLOWED_HOSTS entry, or "" if it can: a DNS name (one trailing dot
// allowed, last label not a number) or an IP literal (IPv4 in dotted decimal,
// IPv6 with or without brackets, without zone), without scheme, port, path or
// wildcard. Configuration validation calls it so that the service never
// refuses what validation accepted.
func AllowedHostProblem(entry string) string {
	if _, ok := entryAddr(entry); ok {
		return ""
	}
	if strings.Contains(entry, "%") {
		if _, err := netip.ParseAddr(strings.Trim(entry, "[]")); err == nil {
			return "an IPv6 zone is not allowed: a request's authority cannot carry one"
		}
	}
	name := strings.TrimSuffix(entry, ".")
	p := nameProblem(name)
	if p == badNameChar {
		for i := 0; i < len(name); i++ {
			if nameClass[name[i]] == notInName {
				return fmt.Sprintf("%q is not allowed in a host name (no scheme, port, path, brackets or wildcard)", name[i])
			}
		}
	}
	return p
}

// entryAddr parses an allow-list entry that is an IP literal: IPv4, or IPv6
// with or without brackets, without zone.
func entryAddr(s string) (netip.Addr, bool) {
	bracketed := len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']'
	if bracketed {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || bracketed && !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// The problems nameProblem reports. They are constants, so that checking a
// request's authority allocates nothing.
const (
	badNameChar     = "only letters, digits, '-', '_' and '.' are allowed in a host name (no scheme, port, path, brackets or wildcard)"
	numericLastName = "the last label is a number, so it is not a DNS name; give an IPv4 address as four decimal numbers 0-255 without leading zeros"
)

// The classes of bytes in a DNS host name (nameClass).
const (
	notInName  = iota
	nameLetter // a letter, '-' or '_'
	nameDigit
	nameDot
)

// nameClass classifies every byte for nameProblem; one table lookup per
// byte keeps the check cheap on the request path.
var nameClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = nameLetter, nameLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = nameDigit
	}
	t['-'], t['_'], t['.'] = nameLetter, nameLetter, nameDot
	return t
}()

// nameProblem says what keeps name (without its trailing dot; either case)
// from being a DNS host name, or "". A name that fails only because its last
// label is a number gets numericLastName, so that the caller may try it as
// an IPv4 address.
func nameProblem(name string) string {
	if name == "" {
		return "empty"
	}
	if len(name) > 253 {
		return "longer than 253 bytes"
	}
	n, digits := 0, 0 // bytes and digits in the current label
	for i := 0; i < len(name); i++ {
		switch nameClass[name[i]] {
		case nameLetter:
			n++
		case nameDigit:
			n, digits = n+1, digits+1
		case nameDot:
			if p := labelProblem(n); p != "" {
				return p
			}
			n, digits = 0, 0
		default:
			return badNameChar
		}
	}
	if p := labelProblem(n); p != "" {
		return p
	}
	if last := name[len(name)-n:]; digits == n || last[0] == '0' && numeric(last) {
		return numericLastName
	}
	return ""
}

// labelProblem says what is wrong with a label of n bytes, or "".
func labelProblem(n int) string {
	switch {
	case n == 0:
		return "empty label"
	case n > 63:
		return "label longer than 63 bytes"
	}
	return ""
}

// numeric reports whether label reads as a number to URL parsers and
// resolvers (the WHATWG URL standard's "ends in a number" test; inet_aton):
// decimal digits, or "0x" and hex digits.
func numeric(label string) bool {
	digits := "0123456789"
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		label, digits = label[2:], "0123456789abcdefABCDEF"
		if label == "" {
			return true
		}
	}
	for i := 0; i < len(label); i++ {
		if strings.IndexByte(digits, label[i]) < 0 {
			return false
		}
	}
	return true
}

// authority is an authority that parseAuthority accepted.
type authority struct {
	host string     // as sent, without brackets: a name keeps its case and trailing dot
	port string     // the digits after ':', or "" without a port
	addr netip.Addr // the IP literal; the zero Addr for a name
}

// name is the host without its trailing dot, as an allow-list entry is kept.
func (a authority) name() string { return strings.TrimSuffix(a.host, ".") }

// parseAuthority parses s by the grammar at the top of this file. It
// reports false for anything else, "" included. It allocates nothing.
func parseAuthority(s string) (authority, bool) {
	var a authority
	host, port, bracketed, ok := splitAuthority(s)
	if !ok {
		return a, false
	}
	a.host, a.port = host, port
	if bracketed {
		addr, ok := ipv6Literal(a.host)
		a.addr = addr
		return a, ok
	}
	name := a.name()
	switch nameProblem(name) {
	case "":
		return a, true
	case numericLastName:
		if name != a.host {
			return a, false // "127.0.0.1." is neither a name nor certainly that address
		}
		addr, err := netip.ParseAddr(a.host) // no ':' here, so only IPv4 parses
		a.addr = addr
		return a, err == nil && addr.Is4()
	}
	return a, false
}

// splitAuthority cuts s into host and a valid port: at the first ']' when s
// starts with '[' (then bracketed), else at the first ':'. The host is not
// checked.
func splitAuthority(s string) (host, port string, bracketed, ok bool) {
	host, rest := s, ""
	bracketed = strings.HasPrefix(s, "[")
	if bracketed {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", true, false
		}
		host, rest = s[1:end], s[end+1:]
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, rest = s[:i], s[i:]
	}
	if rest != "" {
		if rest[0] != ':' || !validPort(rest[1:]) {
			return "", "", bracketed, false
		}
		port = rest[1:]
	}
	return host, port, bracketed, true
}

// ipv6Literal parses the inside of an authority's brackets: an IPv6 address
// in an RFC 4291 text form, without zone (no '%') and not IPv4.
func ipv6Literal(s string) (netip.Addr, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// validPort reports whether p is a port number 1–65535 in decimal without
// leading zeros. RFC 3986 §3.2.3 allows an empty port ("host:") but asks
// producers to omit it; no HTTP client sends that, ":0" or ":00443", and a
// check that guesses what they mean may guess unlike the next hop.
func validPort(p string) bool {
	if len(p) == 0 || len(p) > 5 || p[0] < '1' || p[0] > '9' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// match parses the authority s and reports its host without trailing dot
// (for messages), whether s is well-formed and whether it may receive the
// credential: parseAuthority and allows, with a shortcut for the common
// case. A host that equals a listed name with ASCII case folded (and one
// trailing dot dropped) is a valid name already — the entry passed
// nameProblem, and folding keeps every byte's class — so it is not scanned
// a second time. FuzzAuthority holds match to parseAuthority and allows.
func (l hostList) match(s string) (name string, wellFormed, allowed bool) {
	if host, _, bracketed, ok := splitAuthority(s); ok && !bracketed {
		name = strings.TrimSuffix(host, ".")
		for _, n := range l.names {
			if equalFoldASCII(name, n) {
				return name, true, true
			}
		}
	}
	a, ok := parseAuthority(s)
	return a.name(), ok, ok && l.allows(a)
}

// allows reports whether a may receive the credential: its name equals a
// listed name with ASCII case folded, or its IP literal is a listed address
// (the same 128 or 32 bits; "[::ffff:192.0.2.7]" is not "192.0.2.7").
func (l hostList) allows(a authority) bool {
	if a.addr.IsValid() {
		for _, want := range l.addrs {
			if a.addr == want {
				return true
			}
		}
		return false
	}
	name := a.name()
	for _, n := range l.names {
		if equalFoldASCII(name, n) {
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
