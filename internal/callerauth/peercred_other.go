//go:build !linux

package callerauth

import (
	"errors"
	"net"
)

// peerCred is Linux-only: elsewhere a unix-socket peer has no credentials,
// so uid: and gid: entries match nobody.
func peerCred(net.Conn) (PeerCred, error) {
	return PeerCred{}, errors.New("peer credentials are read on Linux only")
}
