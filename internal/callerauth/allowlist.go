package callerauth

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// ErrNoCallers is returned for a list that was given but names no caller
// (only commas and blanks): refusing it keeps a typo from meaning "anyone".
var ErrNoCallers = errors.New("lists no caller (unset it to allow any caller that completes the handshake)")

// EntryError is a malformed entry of the allow-list.
type EntryError struct {
	Entry  string // the entry, trimmed
	Reason string
}

// Error is the quoted entry and the reason, e.g. `"uid:x": not a decimal number`.
func (e *EntryError) Error() string { return strconv.Quote(e.Entry) + ": " + e.Reason }

// maxID is the largest uid or gid an entry may name: (uid_t)-1 and
// (gid_t)-1, 2^32−1, mean "no user" to the kernel.
const maxID = 1<<32 - 2

// maxDNSNameLen is the longest DNS name in text form (RFC 1035 §2.3.4).
const maxDNSNameLen = 253

// AllowList is EXTAUTHZ_ALLOWED_CALLERS, parsed: who may call Check and stream
// access logs. A caller is allowed when any entry matches it. A nil or empty
// list allows every caller that completes the handshake. It is immutable and
// safe for concurrent use.
type AllowList struct {
	entries     []string // canonical spelling, for String
	uris        []string // exact SPIFFE IDs
	uriPrefixes []string // "spiffe://td/a/" for an entry "spiffe://td/a/*"
	dnsNames    []string // lower-case
	uids, gids  []uint32
}

// ParseAllowList parses the entries of EXTAUTHZ_ALLOWED_CALLERS (the
// variable split at commas). Entries are trimmed and blank ones skipped;
// each is one of
//
//	spiffe://trust-domain/path   a URI SAN, exactly
//	spiffe://trust-domain/path/* any URI SAN below that path (whole segments)
//	dns:NAME                     a DNS SAN, ASCII case-insensitively; no wildcards
//	uid:N, gid:N                 a unix-socket peer's effective uid or gid (decimal)
//
// It returns every malformed entry at once, each an *EntryError (joined with
// errors.Join), or ErrNoCallers when entries are given but all are blank.
func ParseAllowList(entries []string) (*AllowList, error) {
	l := &AllowList{}
	var errs []error
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		canonical, reason := l.add(e)
		if reason != "" {
			errs = append(errs, &EntryError{Entry: e, Reason: reason})
		} else if !slices.Contains(l.entries, canonical) {
			l.entries = append(l.entries, canonical)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(entries) > 0 && len(l.entries) == 0 {
		return nil, ErrNoCallers
	}
	return l, nil
}

// add parses one trimmed entry into l and returns its canonical spelling, or
// the reason it is malformed.
func (l *AllowList) add(e string) (canonical, reason string) {
	kind, value, _ := strings.Cut(e, ":")
	switch kind {
	case "dns":
		if reason := dnsNameProblem(value); reason != "" {
			return "", reason
		}
		name := strings.ToLower(value)
		l.dnsNames = appendNew(l.dnsNames, name)
		return "dns:" + name, ""
	case "uid", "gid":
		id, reason := parseID(value)
		if reason != "" {
			return "", reason
		}
		if kind == "uid" {
			l.uids = appendNew(l.uids, id)
		} else {
			l.gids = appendNew(l.gids, id)
		}
		return e, ""
	}
	if strings.EqualFold(kind, "spiffe") {
		return e, l.addSPIFFE(e)
	}
	return "", "not a caller: want spiffe://trust-domain/path, spiffe://trust-domain/path/*, dns:NAME, uid:N or gid:N"
}

// addSPIFFE adds an exact or "/*" SPIFFE ID entry.
func (l *AllowList) addSPIFFE(e string) (reason string) {
	if base, ok := strings.CutSuffix(e, "/*"); ok {
		if reason := spiffeIDProblem(base); reason != "" {
			return reason
		}
		l.uriPrefixes = appendNew(l.uriPrefixes, base+"/")
		return ""
	}
	if reason := spiffeIDProblem(e); reason != "" {
		return reason
	}
	l.uris = appendNew(l.uris, e)
	return ""
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// parseID parses a uid or gid: decimal digits, no sign, no leading zero (so
// that nobody reads 0750 as octal), at most maxID.
func parseID(s string) (uint32, string) {
	if s == "" {
		return 0, "no number after the colon"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, "not a decimal number"
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, "has a leading zero (give the decimal id)"
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, "larger than 4294967294"
	}
	return uint32(n), ""
}

// dnsNameProblem returns "" if name is a DNS name made of LDH labels (RFC
// 1123), else why it is not one. A wildcard is refused: a dns: entry names
// one SAN exactly.
func dnsNameProblem(name string) string {
	switch {
	case name == "":
		return "no name after dns:"
	case strings.Contains(name, "*"):
		return "wildcards are not allowed: list each name"
	case len(name) > maxDNSNameLen:
		return "longer than 253 bytes"
	case strings.HasSuffix(name, "."):
		return "has a trailing dot (certificates name hosts without one)"
	}
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return "has an empty label"
		case len(label) > 63:
			return "has a label longer than 63 bytes"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "has a label that starts or ends with '-'"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return "has " + strconv.QuoteRune(rune(c)) + " (a DNS name has letters, digits, '-' and '.')"
			}
		}
	}
	return ""
}

// Empty reports whether the list allows every caller.
func (l *AllowList) Empty() bool { return l == nil || len(l.entries) == 0 }

// HasSANEntries reports whether the list has spiffe:// or dns: entries,
// which only a verified client certificate can match (so they need a client
// CA bundle).
func (l *AllowList) HasSANEntries() bool {
	return l != nil && len(l.uris)+len(l.uriPrefixes)+len(l.dnsNames) > 0
}

// HasPeerCredEntries reports whether the list has uid: or gid: entries,
// which only a unix-socket peer can match (so they need a unix listener).
func (l *AllowList) HasPeerCredEntries() bool {
	return l != nil && len(l.uids)+len(l.gids) > 0
}

// String is the list in canonical spelling, comma-separated, for a startup
// log line.
func (l *AllowList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.entries, ",")
}

// Allows reports whether c may call: the list is empty, or an entry matches
// one of c's verified SANs or its peer credentials.
func (l *AllowList) Allows(c *Caller) bool {
	if l.Empty() {
		return true
	}
	for _, u := range c.URIs {
		if l.allowsURI(u) {
			return true
		}
	}
	for _, d := range c.DNSNames {
		for _, name := range l.dnsNames {
			if strings.EqualFold(d, name) {
				return true
			}
		}
	}
	if p := c.Peer; p != nil {
		return slices.Contains(l.uids, p.UID) || slices.Contains(l.gids, p.GID)
	}
	return false
}

// allowsURI matches one URI SAN. Only a well-formed SPIFFE ID can match, so
// that a prefix entry "spiffe://td/a/*" never matches "spiffe://td/a/../b" or
// "spiffe://td/a//x"; a valid ID has no empty segment, so any valid ID that
// starts with "spiffe://td/a/" lies at least one whole segment below it.
func (l *AllowList) allowsURI(u string) bool {
	if spiffeIDProblem(u) != "" {
		return false
	}
	if slices.Contains(l.uris, u) {
		return true
	}
	for _, p := range l.uriPrefixes {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}
