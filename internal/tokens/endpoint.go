package tokens

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// CheckEndpointURL parses raw as an absolute http(s) URL and requires https
// unless the host is loopback (localhost, 127.0.0.0/8, ::1). The host is
// compared after parsing, never by prefix, so http://localhost.evil.example
// fails. URLs with user information are refused: credentials do not belong in
// configuration URLs. Errors wrap ErrInvalidEndpoint or ErrInsecureEndpoint;
// they quote the URL as parsed (so that a configuration problem names what
// was given), never text that failed to parse and never user information.
func CheckEndpointURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot be parsed", ErrInvalidEndpoint)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user information is not allowed", ErrInvalidEndpoint)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q is not an absolute URL with a host", ErrInvalidEndpoint, u.Redacted())
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u, nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("%w: %q", ErrInsecureEndpoint, u.Redacted())
	default:
		return nil, fmt.Errorf("%w: scheme of %q is not http or https", ErrInvalidEndpoint, u.Redacted())
	}
}

// isLoopbackHost reports whether host (already stripped of port and brackets)
// is "localhost" or a loopback IP literal.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return false
	}
	return addr.Unmap().IsLoopback()
}
