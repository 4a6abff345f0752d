package service

import (
	"fmt"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"extauthz/internal/authz"
	"extauthz/internal/feedback"
)

// Bounds of the gRPC listener. Whoever can connect — before any caller check
// that runs in a handler — can make the server read a message, hold streams
// and keep a connection, so each is bounded (issue 9, gRPC server hardening).
const (
	// maxRecvMsgSize bounds one received message. A CheckRequest carries
	// the request's headers and no body (the shipped configs and the
	// validators keep with_request_body off); Envoy refuses requests whose
	// headers pass max_request_headers_kb, 60 KiB by default
	// (http_connection_manager.proto, HttpConnectionManager
	// .max_request_headers_kb), and the shipped configs keep that default. An
	// access-log message is a batch of at most buffer_size_bytes (16 KiB by
	// default, accesslog/v3 als.proto CommonGrpcAccessLogConfig) plus one
	// entry. 1 MiB leaves more than ten times that; a larger message is
	// refused with RESOURCE_EXHAUSTED "grpc: received message larger than
	// max".
	maxRecvMsgSize = 1 << 20
	// maxConcurrentStreams bounds streams per connection. Envoy's HTTP/2
	// connection pool honours a peer's SETTINGS_MAX_CONCURRENT_STREAMS and
	// opens another connection beyond it (source/common/http/
	// conn_pool_base.cc, MultiplexedActiveClientBase::onSettings); the
	// sidecar shape keeps 2×32
	// Checks in flight.
	maxConcurrentStreams = 1024
	// maxHeaderListSize bounds a request's gRPC metadata; Envoy sends a few
	// hundred bytes (content-type, te, grpc-timeout, x-envoy-*, tracing).
	maxHeaderListSize = 64 << 10
	// maxAuxStreams bounds the streams other than access logs open at once
	// on one listener: health Watch and reflection, which stay open to any
	// connection that completed the handshake — a caller the allow-list
	// refuses included — and each hold memory for as long as the client
	// keeps them (20,000 Watch streams held 240 MiB). Envoy uses none of
	// them (its health check is the unary Check); operators' tools a few.
	maxAuxStreams = 64
	// maxConnectionIdle closes a connection that has had no RPC for this
	// long. On a quiet sidecar that includes Envoy's Check connection —
	// its gRPC health checks use a connection of their own
	// (health_checker_impl.cc GrpcActiveHealthCheckSession::onInterval →
	// createHealthCheckConnection) — which then costs one reconnect when
	// the next request comes; a stranger's idle connection stops holding a
	// socket.
	maxConnectionIdle = 5 * time.Minute
	// connectionTimeout bounds the TLS handshake and HTTP/2 preface of a
	// new connection (grpc-go's default is 120 s): a peer that connects and
	// stalls holds a goroutine and a socket only this long. Each connection
	// handshakes in its own goroutine, so a slow one delays no other.
	connectionTimeout = 10 * time.Second
)

// Connection ages under TLS. The caller's identity is checked once per
// connection, at the handshake, and Envoy keeps its connections for as long
// as it runs: a client certificate that expires or a CA removed from the
// bundle would keep its access on an open connection. Connections are
// therefore closed after maxConnectionAge (GOAWAY, then a grace for calls
// in flight; Envoy reconnects at once and the new handshake decides again).
const (
	maxConnectionAge      = 30 * time.Minute
	maxConnectionAgeGrace = time.Minute
)

// grpcServerOptions are the options of the gRPC listener (ext_authz, access
// logs, health, reflection) before its transport credentials; withTLS
// bounds connection ages (see maxConnectionAge).
func grpcServerOptions(withTLS bool) []grpc.ServerOption {
	params := keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second, MaxConnectionIdle: maxConnectionIdle}
	if withTLS {
		params.MaxConnectionAge, params.MaxConnectionAgeGrace = maxConnectionAge, maxConnectionAgeGrace
	}
	return []grpc.ServerOption{
		// Envoy may keep the connection alive with HTTP/2 pings; grpc-go's
		// default enforcement (one ping per 5 min) would answer a shorter
		// interval with GOAWAY too_many_pings and churn connections. Pings
		// more often than every 10 s are abuse and get that GOAWAY.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// The server pings a connection idle for 2 minutes and closes it
		// if no answer comes within 20 s: a vanished peer (a killed pod
		// behind a NAT that dropped the flow) does not hold its streams —
		// an access-log stream stays open for days — forever.
		grpc.KeepaliveParams(params),
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
		grpc.MaxHeaderListSize(maxHeaderListSize),
		grpc.ConnectionTimeout(connectionTimeout),
		grpc.ChainStreamInterceptor(newStreamLimit(maxAuxStreams, accesslogv3.AccessLogService_StreamAccessLogs_FullMethodName).intercept),
		// The fast Check path: requests are scanned, not decoded, and OK
		// responses are sent as bytes encoded once per token generation.
		// Every other message (health, access logs, reflection) goes
		// through the standard proto codec.
		grpc.ForceServerCodecV2(authz.NewCodec()),
		// Without workers grpc-go starts a goroutine per RPC, and growing its
		// stack (runtime.newstack/copystack) was 26 % of server CPU; workers
		// keep their grown stacks. 64 covers the sidecar shape (2 Envoy
		// workers × 32 in flight); more streams than workers fall back to a
		// goroutine each. Measured: server CPU per Check 14.7 → 9.6 µs,
		// 1.37× → 1.99× the baseline's requests/s; 16 workers gained less,
		// 128 and 256 less than 64 (idle workers take turns and their
		// stacks go cold).
		grpc.NumStreamWorkers(streamWorkers),
	}
}

// newCheckServer builds the ext_authz Check server over the credentials.
func (s *Service) newCheckServer(named []authz.NamedCredentials, o Options) (*authz.Server, error) {
	var rules []authz.PrincipalRule
	for _, r := range s.cfg.CredentialByPrincipal {
		rules = append(rules, authz.PrincipalRule{Principal: r.Principal, Prefix: r.Prefix, Credential: r.Credential})
	}
	check, err := authz.NewServer(authz.Options{
		Credentials:  named,
		ByPrincipal:  rules,
		AllowedHosts: s.cfg.AllowedHosts,
		Authorize:    s.guard.Authorize,
		Logger:       o.Logger,
		Observer:     s.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("check server: %w", err)
	}
	return check, nil
}

// newGRPCServer builds the gRPC listener's server: Check and the access-log
// stream behind the caller guard, health and reflection open to any
// connection that completed the handshake.
func (s *Service) newGRPCServer(check *authz.Server, o Options) error {
	s.grpcSrv = grpc.NewServer(append(grpcServerOptions(s.tls != nil), grpc.Creds(s.guard.TransportCredentials()))...)
	check.Register(s.grpcSrv)
	logs, err := feedback.NewServer(feedback.Options{Credentials: feedbackCredentials(s.creds), Observer: s.metrics,
		Logger: o.Logger, Authorize: s.guard.Authorize})
	if err != nil {
		return fmt.Errorf("access-log server: %w", err)
	}
	logs.Register(s.grpcSrv)
	healthpb.RegisterHealthServer(s.grpcSrv, s.health)
	// grpcurl and other tools list and call the services without a
	// protoset. The descriptors are public API; reflection serves no state.
	reflection.Register(s.grpcSrv)
	return nil
}

// streamLimit refuses a stream, with RESOURCE_EXHAUSTED, when max streams
// are open already; the exempt method (the access-log stream, which only
// allowed callers hold) is not counted.
type streamLimit struct {
	open   chan struct{}
	exempt string
}

func newStreamLimit(max int, exempt string) streamLimit {
	return streamLimit{open: make(chan struct{}, max), exempt: exempt}
}

// intercept is a grpc.StreamServerInterceptor.
func (l streamLimit) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod == l.exempt {
		return handler(srv, ss)
	}
	select {
	case l.open <- struct{}{}:
		defer func() { <-l.open }()
		return handler(srv, ss)
	default:
		return status.Errorf(codes.ResourceExhausted, "extauthz: %d health-watch and reflection streams are open already", cap(l.open))
	}
}
