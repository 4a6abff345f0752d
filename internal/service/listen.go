package service

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"

	"extauthz/internal/config"
)

// socketMode is the unix socket's permission: the owner and its group may
// connect (connecting needs write permission), nobody else. Whoever can
// connect can ask Check for the credential, so a deployment runs Envoy in
// extauthz's group and the workload outside it.
const socketMode = 0o660

// listen binds host:port or unix:/path. A stale unix socket left by a crashed
// predecessor is removed; a socket another process still listens on is an
// error, as a TCP port in use would be, and so is any other file at that
// path. A new socket gets socketMode whatever the umask.
func listen(addr string) (net.Listener, error) {
	network, address := config.Listener(addr)
	if network == "unix" {
		fi, err := os.Lstat(address)
		switch {
		case err == nil && fi.Mode().Type() == fs.ModeSocket:
			if c, err := net.DialTimeout("unix", address, time.Second); err == nil {
				c.Close()
				return nil, fmt.Errorf("%s: another process is listening on it", address)
			}
			if err := os.Remove(address); err != nil {
				return nil, fmt.Errorf("removing stale socket: %w", err)
			}
		case err == nil:
			return nil, fmt.Errorf("%s exists and is not a socket", address)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil || network != "unix" {
		return ln, err
	}
	if err := os.Chmod(address, socketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("setting the socket's permissions: %w", err)
	}
	return ln, nil
}

// addrString renders a listener's address as the configuration would name it.
func addrString(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return ln.Addr().String()
}
