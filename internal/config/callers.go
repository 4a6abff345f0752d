package config

import (
	"errors"
	"net/netip"
	"runtime"
	"strings"

	"extauthz/internal/callerauth"
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
	if len(c.AllowedCallers) > 0 {
		c.validateAllowList(add)
	}
	if c.TLSCertFile != "" && c.TLSKeyFile != "" {
		c.validateTLSFiles(add)
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

// validateAllowList parses EXTAUTHZ_ALLOWED_CALLERS, one problem per bad
// entry, and refuses entries that could match nobody on this listener.
func (c *Config) validateAllowList(add func(v, format string, args ...any)) {
	const v = "EXTAUTHZ_ALLOWED_CALLERS"
	list, err := callerauth.ParseAllowList(c.AllowedCallers)
	if err != nil {
		for _, e := range joined(err) {
			add(v, "%v", e)
		}
		return
	}
	c.callers = list
	if list.HasSANEntries() && c.TLSClientCAFile == "" {
		add(v, "spiffe:// and dns: entries match client certificates, which only EXTAUTHZ_TLS_CLIENT_CA_FILE makes extauthz ask for")
	}
	if list.HasPeerCredEntries() {
		switch {
		case !strings.HasPrefix(c.GRPCAddr, "unix:"):
			add(v, "uid: and gid: entries match the kernel's peer credentials of a unix socket, but EXTAUTHZ_GRPC_ADDR is %s", c.GRPCAddr)
		case runtime.GOOS != "linux":
			add(v, "uid: and gid: entries need SO_PEERCRED, which extauthz reads on Linux only")
		}
	}
}

// validateTLSFiles loads the certificate, key and client CA as the service
// will, naming each problem after the file's variable.
func (c *Config) validateTLSFiles(add func(v, format string, args ...any)) {
	_, err := callerauth.LoadServerTLS(c.TLSFiles(), callerauth.TLSOptions{})
	for _, e := range joined(err) {
		v := "EXTAUTHZ_TLS_CERT_FILE"
		var fe *callerauth.FileError
		if errors.As(e, &fe) {
			switch fe.Role {
			case callerauth.RoleKey:
				v = "EXTAUTHZ_TLS_KEY_FILE"
			case callerauth.RoleClientCA:
				v = "EXTAUTHZ_TLS_CLIENT_CA_FILE"
			}
		}
		add(v, "%v", e)
	}
}

// TLSFiles are the EXTAUTHZ_TLS_* files.
func (c *Config) TLSFiles() callerauth.TLSFiles {
	return callerauth.TLSFiles{CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile, ClientCAFile: c.TLSClientCAFile}
}

// joined unpacks an errors.Join into its errors (nil for nil).
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
