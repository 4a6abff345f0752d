package callerauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/authz"
	"extauthz/internal/secret"
	"extauthz/internal/testpki"
)

// testKey is the credential the test server hands out: what an attacker
// wants.
const testKey = "sk-ant-api03-callerauth-test-static-key-0123456789"

func init() { suiteLogs.Remember(testKey) }

// Identities of the allowed caller's client certificates.
const (
	gatewayID = "spiffe://cluster.local/ns/egress/sa/envoy-gateway"
	envoyDNS  = "envoy.egress.svc"
)

// hangGuard bounds every wait so that a broken test fails instead of
// hanging; no assertion depends on it.
const hangGuard = 30 * time.Second

// guardedCheck is Check as the service will wire it: Authorize first, then
// the real authz.Server.
type guardedCheck struct {
	authv3.UnimplementedAuthorizationServer
	guard *Guard
	check *authz.Server
}

func (c *guardedCheck) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if err := c.guard.Authorize(ctx); err != nil {
		return nil, err
	}
	return c.check.Check(ctx, req)
}

// harness is one test's server side: logs, observer, TLS material, guard.
type harness struct {
	t      *testing.T
	log    *slog.Logger
	logs   *logText
	obs    *countingObserver
	tls    *ServerTLS
	guard  *Guard
	target string // what a grpc client dials
}

func newHarness(t *testing.T) *harness {
	logger, logs := testLogger()
	return &harness{t: t, log: logger, logs: logs, obs: newObserver()}
}

// loadTLS loads files as the listener's TLS material.
func (h *harness) loadTLS(files TLSFiles) *ServerTLS {
	h.t.Helper()
	s, err := LoadServerTLS(files, TLSOptions{Logger: h.log, Observer: h.obs})
	if err != nil {
		h.t.Fatal(err)
	}
	h.tls = s
	return s
}

// serve runs a gRPC server with the guard's credentials, Check and health on
// lis until the test ends.
func (h *harness) serve(lis net.Listener, allowed ...string) {
	h.t.Helper()
	var list *AllowList
	if len(allowed) > 0 {
		var err error
		if list, err = ParseAllowList(allowed); err != nil {
			h.t.Fatal(err)
		}
	}
	g, err := NewGuard(Options{AllowList: list, TLS: h.tls, Logger: h.log, Observer: h.obs})
	if err != nil {
		h.t.Fatal(err)
	}
	h.guard = g
	check, err := authz.NewServer(authz.Options{Credentials: []authz.NamedCredentials{{Name: "default", Mode: authz.ModeStaticKey, Credentials: authz.StaticKey(secret.New(testKey))}}, Logger: h.log})
	if err != nil {
		h.t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(g.TransportCredentials()), grpc.ConnectionTimeout(5*time.Second))
	authv3.RegisterAuthorizationServer(gs, &guardedCheck{guard: g, check: check})
	healthpb.RegisterHealthServer(gs, health.NewServer()) // "" is SERVING
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	h.t.Cleanup(func() {
		gs.Stop()
		if err := <-served; err != nil {
			h.t.Errorf("Serve: %v", err)
		}
	})
	h.target = "passthrough:///" + lis.Addr().String()
	if lis.Addr().Network() == "unix" {
		h.target = "unix:" + lis.Addr().String()
	}
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// outcome is what one client got from one new connection.
type outcome struct {
	token  bool  // Check answered with the credential
	err    error // the RPC's error
	health healthpb.HealthCheckResponse_ServingStatus
}

// call dials target on a new connection, asks health and then Check, and
// reports what came back. The credential is compared, never printed.
func call(t *testing.T, target string, creds credentials.TransportCredentials) outcome {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var o outcome
	if hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		o.health = hr.GetStatus()
	}
	resp, err := authzClient(conn).Check(ctx, checkRequest())
	o.err = err
	o.token = hasTestKey(resp)
	return o
}

func authzClient(conn *grpc.ClientConn) authv3.AuthorizationClient {
	return authv3.NewAuthorizationClient(conn)
}

// checkRequest is a minimal Envoy-shaped request for an allowed host.
func checkRequest() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v1/messages", Host: "api.anthropic.com",
			Headers: map[string]string{":authority": "api.anthropic.com", "x-api-key": "placeholder"},
		},
	}}}
}

// apiKeyHeader is the x-api-key value Check set, if any.
func apiKeyHeader(resp *authv3.CheckResponse) (string, bool) {
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "x-api-key" {
			return h.GetHeader().GetValue(), true
		}
	}
	return "", false
}

func hasTestKey(resp *authv3.CheckResponse) bool {
	v, ok := apiKeyHeader(resp)
	return ok && v == testKey
}

// clientTLS are a client's credentials: it trusts roots and presents cert
// (if not nil). seen, if not nil, receives the server's leaf certificate.
func clientTLS(roots *testpki.CA, cert *testpki.Pair, seen **x509.Certificate) credentials.TransportCredentials {
	cfg := &tls.Config{RootCAs: roots.Pool(), ServerName: serverName, MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
		if err != nil {
			panic(err)
		}
		// Always present it, even when the server names other CAs (Go's
		// client would otherwise send none): the attacker tries anyway.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	if seen != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			*seen = cs.PeerCertificates[0]
			return nil
		}
	}
	return credentials.NewTLS(cfg)
}
