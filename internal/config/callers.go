package config

import (
	"net/netip"
	"strings"
)

// validateCallers checks the caller-authentication settings (design.md,
// "Caller authentication"): the TLS files come as a pair, a client CA needs
// them, and a listener that anyone on the network can reach must verify
// its callers — Check hands the credential to whoever asks.
func (c *Config) validateCallers(add func(v, format string, args ...any)) {
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		add("EXTAUTHZ_TLS_KEY_FILE", "required when EXTAUTHZ_TLS_CERT_FILE is set (both or neither)")
	case c.TLSKeyFile != "" && c.TLSCertFile == "":
		add("EXTAUTHZ_TLS_CERT_FILE", "required when EXTAUTHZ_TLS_KEY_FILE is set (both or neither)")
	}
	if c.TLSClientCAFile != "" && c.TLSCertFile == "" && c.TLSKeyFile == "" {
		add("EXTAUTHZ_TLS_CLIENT_CA_FILE", "needs EXTAUTHZ_TLS_CERT_FILE and EXTAUTHZ_TLS_KEY_FILE: client certificates are verified in a TLS handshake")
	}
	if c.AllowUnauthenticatedCallers.invalid {
		add("EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS", "want true or false")
	}
	if c.allowedCallersSet && len(c.AllowedCallers) == 0 {
		add("EXTAUTHZ_ALLOWED_CALLERS", "lists no caller (unset it to let anyone who can connect call Check)")
	}
	for _, l := range []struct{ v, addr string }{{"EXTAUTHZ_GRPC_ADDR", c.GRPCAddr}, {"EXTAUTHZ_ADMIN_ADDR", c.AdminAddr}} {
		if checkListenAddr(l.addr, true) == nil && exposed(l.addr) && c.TLSClientCAFile == "" && !c.AllowUnauthenticatedCallers.True() {
			add(l.v, "%s is reachable from the network and nothing verifies callers, so anyone who can connect could take the credential: "+
				"set EXTAUTHZ_TLS_CLIENT_CA_FILE (mTLS), listen on loopback or unix:/path, or set EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS=true "+
				"when a mesh proxy in front of extauthz enforces mTLS and authorization", l.addr)
		}
	}
}

// exposed reports whether addr is a TCP address that is not loopback-only:
// a wildcard (":9191", "0.0.0.0:9191", "[::]:9191"), an interface address
// or a host name (which may resolve anywhere).
func exposed(addr string) bool {
	if addr == "off" || strings.HasPrefix(addr, "unix:") {
		return false
	}
	host := addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host = addr[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err != nil || !a.Unmap().IsLoopback()
}

// Loopback reports whether addr is a TCP listener on a loopback address,
// where every local process (and nothing else) can connect.
func Loopback(addr string) bool {
	return addr != "off" && addr != "" && !strings.HasPrefix(addr, "unix:") && !exposed(addr)
}
