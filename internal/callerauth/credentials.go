package callerauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
)

// AuthInfo is the credentials.AuthInfo of every connection accepted through
// a Guard's TransportCredentials: the caller and the allow decision, both
// worked out at the handshake. Over TLS it carries grpc's TLSInfo (the
// connection state, the SPIFFE ID grpc extracts, the security level);
// otherwise only the security level: NoSecurity over TCP, and
// PrivacyAndIntegrity over a unix socket, as grpc's local credentials rate
// one. Handlers must treat it as read-only.
type AuthInfo struct {
	credentials.TLSInfo
	// Caller is who connected.
	Caller  Caller
	allowed bool
}

// AuthType is "tls" over TLS and "insecure" otherwise.
func (a *AuthInfo) AuthType() string {
	if a.Caller.TLS {
		return a.TLSInfo.AuthType()
	}
	return "insecure"
}

// Allowed reports whether the allow-list admitted the caller.
func (a *AuthInfo) Allowed() bool { return a.allowed }

// GetSecurityValue is the channelz view: grpc's TLS one over TLS, none
// otherwise.
func (a *AuthInfo) GetSecurityValue() credentials.ChannelzSecurityValue {
	if a.Caller.TLS {
		return a.TLSInfo.GetSecurityValue()
	}
	return nil
}

// serverCredentials are a Guard's transport credentials: plaintext or TLS,
// over TCP or a unix socket.
type serverCredentials struct {
	g   *Guard
	tls credentials.TransportCredentials // nil: plaintext
}

var _ credentials.TransportCredentials = (*serverCredentials)(nil)

// ServerHandshake reads the peer's credentials on a unix socket, runs the
// TLS handshake when configured, and decides once whether the caller is
// allowed. A failed TLS handshake closes the connection and returns the
// error; grpc drops the connection and goes on serving. grpc bounds the
// whole handshake with its connection timeout (grpc.ConnectionTimeout).
func (c *serverCredentials) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	ai := &AuthInfo{Caller: Caller{Remote: addrString(raw.RemoteAddr())}}
	unix := raw.LocalAddr() != nil && raw.LocalAddr().Network() == "unix"
	if unix {
		if p, err := peerCred(raw); err == nil {
			ai.Caller.Peer = &p
		} else {
			c.g.peerCredFailed(err)
		}
	}
	conn := raw
	if c.tls == nil {
		level := credentials.NoSecurity
		if unix {
			level = credentials.PrivacyAndIntegrity
		}
		ai.TLSInfo.CommonAuthInfo = credentials.CommonAuthInfo{SecurityLevel: level}
	} else {
		tconn, info, err := c.tls.ServerHandshake(raw)
		if err != nil {
			c.g.handshakeFailed(&ai.Caller, err)
			return nil, nil, err
		}
		ti, ok := info.(credentials.TLSInfo)
		if !ok {
			tconn.Close()
			return nil, nil, fmt.Errorf("callerauth: TLS handshake returned %T, not credentials.TLSInfo", info)
		}
		ai.TLSInfo, ai.Caller.TLS = ti, true
		ai.Caller.URIs, ai.Caller.DNSNames = verifiedSANs(&ti)
		conn = tconn
	}
	ai.allowed = c.g.allow.Allows(&ai.Caller)
	return conn, ai, nil
}

// verifiedSANs are the URI and DNS SANs of the client's certificate, if the
// server verified it (a verified chain exists only with a client CA bundle).
func verifiedSANs(ti *credentials.TLSInfo) (uris, dns []string) {
	st := &ti.State
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return nil, nil
	}
	leaf := st.PeerCertificates[0]
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	return uris, leaf.DNSNames
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// ClientHandshake is not supported: these are server credentials.
func (c *serverCredentials) ClientHandshake(_ context.Context, _ string, _ net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("callerauth: server-side transport credentials cannot dial")
}

// Info describes the protocol: grpc's TLS info, or "insecure".
func (c *serverCredentials) Info() credentials.ProtocolInfo {
	if c.tls != nil {
		return c.tls.Info()
	}
	return credentials.ProtocolInfo{SecurityProtocol: "insecure"}
}

// Clone returns a copy sharing the Guard and the TLS material.
func (c *serverCredentials) Clone() credentials.TransportCredentials {
	cc := *c
	if c.tls != nil {
		cc.tls = c.tls.Clone()
	}
	return &cc
}

// OverrideServerName is a client-side setting; it does nothing here.
func (c *serverCredentials) OverrideServerName(string) error { return nil }

// handshakeFailed logs a failed TLS handshake (rate-limited WARN: the
// peer's address and the TLS error, which names no secret) and tells the
// observer. A peer that closed before sending anything — a TCP health
// probe, a port scan — is logged at DEBUG and not counted.
func (g *Guard) handshakeFailed(c *Caller, err error) {
	if errors.Is(err, io.EOF) {
		g.log.Debug("connection closed before the TLS handshake", slog.Any("caller", *c))
		return
	}
	if ok, held := g.handshakeLog.Allow(time.Now()); ok {
		g.log.Warn("TLS handshake failed", slog.Any("caller", *c), slog.String("error", err.Error()), slog.Int64("suppressed", held))
	}
	g.observer.HandshakeFailed()
}

// peerCredFailed logs that a unix-socket peer's credentials could not be
// read; uid: and gid: entries then do not match it.
func (g *Guard) peerCredFailed(err error) {
	if ok, held := g.peerCredLog.Allow(time.Now()); ok {
		g.log.Warn("cannot read a unix socket peer's credentials; uid: and gid: entries will not match it",
			slog.String("error", err.Error()), slog.Int64("suppressed", held))
	}
}
