package e2e

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/authz"
	"extauthz/internal/config"
	"extauthz/internal/echo"
	"extauthz/internal/emulator"
	"extauthz/internal/healthwatch"
	"extauthz/internal/service"
)

// logger writes JSON logs at debug level into the suite's recorder.
func logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startEmulator runs the local emulator for one test, minting tokens that
// live lifetime, with the compose stack's two service accounts.
func startEmulator(t *testing.T, lifetime time.Duration) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(context.Background(), emulator.Options{TokenLifetime: lifetime, Logger: logger(),
		ServiceAccounts: map[string]string{"team-a": "", "team-b": ""}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	logs.Remember(emu.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	return emu
}

// composeHosts is EXTAUTHZ_ALLOWED_HOSTS of the compose stack: only
// requests addressed to the published port get the credential.
const composeHosts = "localhost,127.0.0.1"

// authzService is the service as `serve` wires it, on a loopback port.
type authzService struct {
	conn *grpc.ClientConn
}

// startService loads env as `serve` would (gRPC on 127.0.0.1:0, no HTTP
// listener) and runs the service until the test ends.
func startService(t *testing.T, env map[string]string) *authzService {
	t.Helper()
	env = maps.Clone(env)
	env["EXTAUTHZ_GRPC_ADDR"], env["EXTAUTHZ_HTTP_ADDR"], env["EXTAUTHZ_ADMIN_ADDR"], env["EXTAUTHZ_LOG_LEVEL"] = "127.0.0.1:0", "off", "off", "debug"
	cfg, err := config.Load(context.Background(), config.MapEnv(env))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	svc, err := service.New(context.Background(), cfg, service.Options{
		Logger: logger(), Version: "e2e", Lookup: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	conn, err := grpc.NewClient("passthrough:///"+svc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with %v", err)
		}
	})
	return &authzService{conn: conn}
}

// waitHealth blocks until grpc.health.v1 reports want for ext_authz.
func (s *authzService) waitHealth(t *testing.T, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not an assertion
	defer cancel()
	if err := healthwatch.Wait(ctx, s.conn, authz.ServiceName, want); err != nil {
		t.Fatal(err)
	}
}

// seen is one request as the upstream received it, credentials and all.
type seen struct {
	host   string
	path   string
	header http.Header
}

// upstream is the echo handler on httptest, recording the raw requests it
// answers so that tests can check the credential itself. It can be told to
// answer as Anthropic does when it rejects the credential.
type upstream struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []seen
	reject bool // answer 401 authentication_error instead of the echo
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	reply := echo.Handler()
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, seen{host: r.Host, path: r.URL.Path, header: r.Header.Clone()})
		reject := u.reject
		u.mu.Unlock()
		if reject {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid bearer token"}}`)
			return
		}
		reply.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// rejectCredentials makes the upstream answer every request with 401 (on)
// or with the echo (off).
func (u *upstream) rejectCredentials(on bool) {
	u.mu.Lock()
	u.reject = on
	u.mu.Unlock()
}

// requests returns what the upstream has received so far and forgets it.
func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	got := u.got
	u.got = nil
	return got
}
