package admin

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/leakcheck"
	"extauthz/internal/secret"
	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// Credentials the tests hand the server; none may appear in a response or a
// log line.
const (
	testToken   = "sk-ant-oat01-admin-test-token-AbCdEf0123456789"
	testToken2  = "sk-ant-oat01-admin-test-token-second-ZyXw9876"
	testKey     = "sk-ant-api03-admin-test-static-key-0123456789"
	testJWT     = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZG1pbi10ZXN0In0.c2lnbmF0dXJlLWFkbWlu"
	testBearer  = "request-token-admin-test-5f1e"
	leakyReason = "token endpoint: HTTP 401: assertion " + testJWT + " rejected; token " + testToken + "; Bearer " + testBearer + "\x1b[31m"
)

// suiteLogs records every log line and every response the tests see;
// TestMain fails the run if one holds a credential.
var suiteLogs leakcheck.Recorder

func TestMain(m *testing.M) {
	suiteLogs.Remember(testToken, testToken2, testKey, testJWT, testBearer)
	os.Exit(leakcheck.Main(m, &suiteLogs))
}

// testLogger logs into suiteLogs.
func testLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&suiteLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// record adds a response, as protojson, to suiteLogs and returns it.
func record[M proto.Message](m M) M {
	if b, err := protojson.Marshal(m); err == nil {
		suiteLogs.Write(append(b, '\n'))
	}
	return m
}

// fakeCredential is a Credential whose status the test sets and whose
// RefreshNow the test scripts.
type fakeCredential struct {
	name string
	info Info

	mu      sync.Mutex
	st      tokens.Status
	refresh func(ctx context.Context) (tokens.Status, error)
	calls   int
}

func (f *fakeCredential) Name() string { return f.name }
func (f *fakeCredential) Info() Info   { return f.info }

func (f *fakeCredential) Status() tokens.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeCredential) set(st tokens.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
}

func (f *fakeCredential) RefreshNow(ctx context.Context) (tokens.Status, error) {
	f.mu.Lock()
	f.calls++
	refresh := f.refresh
	f.mu.Unlock()
	if refresh == nil {
		return f.Status(), nil
	}
	return refresh(ctx)
}

func (f *fakeCredential) refreshCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// wifInfo is the Info of a federated test credential.
func wifInfo(serviceAccount string) Info {
	return Info{Mode: ModeGitHubOIDC, FederationRuleID: "fdrl_test", OrganizationID: "00000000-0000-4000-8000-000000000000",
		ServiceAccountID: serviceAccount, WorkspaceID: "wrkspc_test"}
}

// token is a test token sent at sent with lifetime l and the design's edge.
func token(value string, sent time.Time, l time.Duration, generation uint64) *tokens.Token {
	margin := min(30*time.Second, l/10)
	return &tokens.Token{Value: secret.New(value), Sent: sent, Expiry: sent.Add(l), Edge: sent.Add(l - margin), Generation: generation}
}

// fresh is a servable status with tok and the next attempt at next.
func fresh(tok *tokens.Token, next time.Time) tokens.Status {
	return tokens.Status{Ready: true, Token: tok, NextAttempt: next}
}

// newServer builds a Server over creds with the test logger.
func newServer(t *testing.T, o Options, creds ...Credential) *Server {
	t.Helper()
	o.Credentials = creds
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serve runs s's gRPC server on 127.0.0.1:0 until the test ends and returns
// a client connection to it.
func serve(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := s.GRPCServer()
	go g.Serve(lis)
	t.Cleanup(func() { s.Close(); g.GracefulStop() })
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func client(t *testing.T, s *Server) adminv1.AdminServiceClient {
	return adminv1.NewAdminServiceClient(serve(t, s))
}
