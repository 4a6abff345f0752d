package callerauth

import (
	"log/slog"
)

// Caller is who is at the other end of a connection, as far as the transport
// proves it. It is worked out once, at the handshake, and never changes.
type Caller struct {
	// Remote is the peer's address for logs: host:port over TCP; a unix
	// socket's peer is usually unnamed ("" or "@").
	Remote string
	// TLS reports whether the connection speaks TLS.
	TLS bool
	// URIs and DNSNames are the URI and DNS subject alternative names of the
	// client's certificate, set only when the server verified that
	// certificate against the client CA bundle.
	URIs, DNSNames []string
	// Peer is the kernel's record of the process that connected to a unix
	// socket (SO_PEERCRED); nil over TCP, or where the platform or the
	// listener does not give it.
	Peer *PeerCred
}

// PeerCred is a unix socket peer's credentials as the kernel recorded them
// when the peer called connect(2): its process ID, effective user ID and
// effective group ID. Supplementary groups are not part of it.
type PeerCred struct {
	PID      int32
	UID, GID uint32
}

// maxSANsLogged bounds how many SANs of each kind a log line names.
const maxSANsLogged = 8

// LogValue renders the caller for a log line: the address, and the SANs or
// the peer's uid, gid and pid. None of it is secret.
func (c Caller) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 6)
	if c.Remote != "" {
		attrs = append(attrs, slog.String("remote", c.Remote))
	}
	attrs = append(attrs, slog.Bool("tls", c.TLS))
	if len(c.URIs) > 0 {
		attrs = append(attrs, slog.Any("uri_sans", firstN(c.URIs, maxSANsLogged)))
	}
	if len(c.DNSNames) > 0 {
		attrs = append(attrs, slog.Any("dns_sans", firstN(c.DNSNames, maxSANsLogged)))
	}
	if p := c.Peer; p != nil {
		attrs = append(attrs, slog.Uint64("uid", uint64(p.UID)), slog.Uint64("gid", uint64(p.GID)), slog.Int64("pid", int64(p.PID)))
	}
	return slog.GroupValue(attrs...)
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
