package callerauth

import (
	"errors"
	"net"
	"syscall"
)

// peerCred asks the kernel who connected to a unix socket: SO_PEERCRED
// returns the pid, euid and egid of the process that called connect(2),
// recorded by the kernel at that moment — the peer cannot forge them.
func peerCred(c net.Conn) (PeerCred, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return PeerCred{}, errors.New("the connection does not expose its socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return PeerCred{}, err
	}
	var ucred *syscall.Ucred
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		ucred, sockErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return PeerCred{}, err
	}
	if sockErr != nil {
		return PeerCred{}, sockErr
	}
	return PeerCred{PID: ucred.Pid, UID: ucred.Uid, GID: ucred.Gid}, nil
}
