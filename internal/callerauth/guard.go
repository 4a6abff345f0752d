package callerauth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"extauthz/internal/logthrottle"
)

// ErrSANsNeedClientCA is returned by NewGuard for spiffe:// or dns: entries
// without a client CA bundle: no client certificate would be verified, so
// those entries could match nobody.
var ErrSANsNeedClientCA = errors.New("spiffe:// and dns: entries need a client CA bundle (EXTAUTHZ_TLS_CLIENT_CA_FILE)")

// errNotAllowed is Authorize's answer to a caller not on the list. It is
// built once: the rejection path allocates nothing for it either.
var errNotAllowed = status.Error(codes.PermissionDenied, "extauthz: this caller is not in EXTAUTHZ_ALLOWED_CALLERS")

// Options configures a Guard.
type Options struct {
	// AllowList is who may call; nil or empty allows every caller that
	// completes the handshake.
	AllowList *AllowList
	// TLS is the listener's TLS material; nil means plaintext.
	TLS *ServerTLS
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Observer is told of rejections and failed handshakes; optional.
	Observer Observer
}

// Guard authenticates the callers of one or more gRPC listeners: its
// TransportCredentials work out each connection's caller and decision at
// the handshake, and Authorize enforces the decision per RPC.
type Guard struct {
	allow    *AllowList
	log      *slog.Logger
	observer Observer
	creds    credentials.TransportCredentials

	rejectLog, handshakeLog, peerCredLog logthrottle.Throttle
}

// NewGuard checks o and returns a Guard. It refuses SAN entries without a
// client CA bundle (ErrSANsNeedClientCA). uid: and gid: entries on a TCP
// listener cannot be refused here, since one Guard serves any listener:
// configuration validation refuses them, and over TCP they match nobody.
func NewGuard(o Options) (*Guard, error) {
	if o.AllowList.HasSANEntries() && (o.TLS == nil || !o.TLS.VerifiesClients()) {
		return nil, ErrSANsNeedClientCA
	}
	g := &Guard{allow: o.AllowList, log: o.Logger, observer: o.Observer}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.observer == nil {
		g.observer = nopObserver{}
	}
	sc := &serverCredentials{g: g}
	if o.TLS != nil {
		sc.tls = credentials.NewTLS(o.TLS.Config())
	}
	g.creds = sc
	return g, nil
}

// TransportCredentials are the server credentials for grpc.Creds: plaintext
// or TLS as configured, on a TCP or unix-socket listener. Every connection
// they accept carries an *AuthInfo.
func (g *Guard) TransportCredentials() credentials.TransportCredentials { return g.creds }

// Authorize returns nil if the caller of ctx may call Check or stream access
// logs, and otherwise a gRPC status error PERMISSION_DENIED (which names no
// secret), after a rate-limited WARN naming the peer and a call to
// Observer.CallerRejected. The decision was made at the handshake: when the
// caller is allowed, Authorize costs a context lookup and a field read, and
// allocates nothing. A connection not accepted through TransportCredentials
// is refused (it fails closed).
//
// Call it from the Check and access-log handlers only; health and
// reflection stay open to every connection.
func (g *Guard) Authorize(ctx context.Context) error {
	p, _ := peer.FromContext(ctx)
	if p != nil {
		if ai, ok := p.AuthInfo.(*AuthInfo); ok && ai.allowed {
			return nil
		}
	}
	g.reject(ctx, p)
	return errNotAllowed
}

// reject logs (rate-limited) and counts one refused RPC.
func (g *Guard) reject(ctx context.Context, p *peer.Peer) {
	g.observer.CallerRejected()
	ok, held := g.rejectLog.Allow(time.Now())
	if !ok {
		return
	}
	attrs := []slog.Attr{slog.Int64("suppressed", held)}
	switch ai, isOurs := authInfo(p); {
	case isOurs:
		attrs = append(attrs, slog.Any("caller", ai.Caller))
	case p != nil:
		attrs = append(attrs, slog.String("remote", addrString(p.Addr)),
			slog.String("reason", "the connection was not accepted through callerauth's credentials"))
	default:
		attrs = append(attrs, slog.String("reason", "no peer in the context"))
	}
	g.log.LogAttrs(ctx, slog.LevelWarn, "caller rejected: not in EXTAUTHZ_ALLOWED_CALLERS", attrs...)
}

func authInfo(p *peer.Peer) (*AuthInfo, bool) {
	if p == nil {
		return nil, false
	}
	ai, ok := p.AuthInfo.(*AuthInfo)
	return ai, ok
}
