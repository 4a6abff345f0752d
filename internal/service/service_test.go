package service

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/authz"
	"extauthz/internal/config"
	"extauthz/internal/healthwatch"
	"extauthz/internal/leakcheck"
)

// staticKey is the static-key mode credential used by these tests.
const staticKey = "sk-ant-api03-service-test-static-key"

// suiteLogs records every log line of the package's tests; TestMain fails
// the run if one holds a credential.
var suiteLogs leakcheck.Recorder

func TestMain(m *testing.M) {
	suiteLogs.Remember(staticKey)
	os.Exit(leakcheck.Main(m, &suiteLogs))
}

// running is a service started by start.
type running struct {
	svc  *Service
	conn *grpc.ClientConn
	http *http.Client
	stop func() error // cancels Run and returns its error
}

// start loads env (with loopback ephemeral listeners unless set), builds,
// binds and runs the service.
func start(t *testing.T, env map[string]string) *running {
	t.Helper()
	for k, v := range map[string]string{"EXTAUTHZ_GRPC_ADDR": "127.0.0.1:0", "EXTAUTHZ_HTTP_ADDR": "127.0.0.1:0", "EXTAUTHZ_ADMIN_ADDR": "127.0.0.1:0", "EXTAUTHZ_LOG_LEVEL": "debug"} {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	cfg, err := config.Load(context.Background(), config.MapEnv(env))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := slog.New(slog.NewJSONHandler(&suiteLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := New(context.Background(), cfg, Options{Logger: logger, Version: "test", Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	target := svc.GRPCAddr()
	if !strings.HasPrefix(target, "unix:") {
		target = "passthrough:///" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{svc: svc, conn: conn, http: &http.Client{Timeout: 10 * time.Second}}
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done; conn.Close() })
		return runErr
	}
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// waitHealth blocks until grpc.health.v1 reports want for the ext_authz service.
func (r *running) waitHealth(t *testing.T, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not an assertion
	defer cancel()
	if err := healthwatch.Wait(ctx, r.conn, authz.ServiceName, want); err != nil {
		t.Fatal(err)
	}
}

// check sends the request `extauthz check` sends, for host.
func (r *running) check(t *testing.T, host string) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(r.conn).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v1/messages", Host: host,
			Headers: map[string]string{":authority": host, "x-api-key": "placeholder", "anthropic-beta": "files-api-2025-04-14"},
		}},
	}})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}

// get fetches path from the HTTP listener.
func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := r.http.Get("http://" + r.svc.HTTPAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// header returns the value of the OK response's header key, or "".
func header(resp *authv3.CheckResponse, key string) string {
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == key {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

func TestStaticKeyModeServesAtOnce(t *testing.T) {
	r := start(t, map[string]string{"ANTHROPIC_API_KEY": staticKey, "EXTAUTHZ_ALLOWED_HOSTS": "api.anthropic.com"})
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)

	resp := r.check(t, "api.anthropic.com:443")
	if resp.GetStatus().GetCode() != 0 || header(resp, "x-api-key") != staticKey {
		t.Fatalf("static-key Check: status %d, x-api-key set: %v", resp.GetStatus().GetCode(), header(resp, "x-api-key") != "")
	}
	if got := resp.GetOkResponse().GetHeadersToRemove(); len(got) != 1 || got[0] != "authorization" {
		t.Errorf("headers_to_remove = %q, want [authorization]", got)
	}
	if resp := r.check(t, "evil.example"); resp.GetStatus().GetCode() != int32(codes.PermissionDenied) {
		t.Errorf("disallowed host: status %d, want 7", resp.GetStatus().GetCode())
	}

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		if code, _ := r.get(t, path); code != want {
			t.Errorf("GET %s = %d, want %d", path, code, want)
		}
	}
	_, metrics := r.get(t, "/metrics")
	for _, series := range []string{
		`extauthz_checks_total{credential="default",result="ok"} 1`,
		`extauthz_checks_total{credential="default",result="forbidden"} 1`,
		`extauthz_check_duration_seconds_count{credential="default"} 2`,
		"extauthz_ready 1",
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if leaks := leakcheck.Find(metrics, staticKey); len(leaks) > 0 {
		t.Errorf("/metrics holds credentials: %v", leaks)
	}
	if err := r.stop(); err != nil {
		t.Errorf("Run returned %v after a clean stop", err)
	}
}

func TestUnixSocketListeners(t *testing.T) {
	dir := t.TempDir()
	grpcSock, httpSock := dir+"/grpc.sock", dir+"/http.sock"
	// A stale socket from a crashed predecessor must not stop a restart. (A
	// clean stop unlinks its socket, so leave one behind on purpose.)
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: grpcSock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	if fi, err := os.Lstat(grpcSock); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("no stale socket to start over: %v", err)
	}

	r := start(t, map[string]string{"ANTHROPIC_API_KEY": staticKey, "EXTAUTHZ_GRPC_ADDR": "unix:" + grpcSock, "EXTAUTHZ_HTTP_ADDR": "unix:" + httpSock})
	if r.svc.GRPCAddr() != "unix:"+grpcSock {
		t.Errorf("GRPCAddr = %q", r.svc.GRPCAddr())
	}
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	if resp := r.check(t, "api.anthropic.com"); resp.GetStatus().GetCode() != 0 {
		t.Errorf("Check over a unix socket: status %d", resp.GetStatus().GetCode())
	}
	for _, sock := range []string{grpcSock, httpSock} {
		if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o660 {
			t.Errorf("%s: mode %v (%v), want 0660: only extauthz's user and group may connect", sock, fi.Mode().Perm(), err)
		}
	}
}

func TestListenRefusesALiveSocket(t *testing.T) {
	path := t.TempDir() + "/live.sock"
	live, err := listen("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if ln, err := listen("unix:" + path); err == nil {
		ln.Close()
		t.Fatal("listen took over a socket another listener serves")
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := live.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the first listener lost its socket: %v", err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("the first listener did not accept: %v", err)
	}
}

func TestListenRefusesToReplaceAFile(t *testing.T) {
	path := t.TempDir() + "/not-a-socket"
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listen("unix:" + path); err == nil {
		t.Fatal("listen replaced a regular file")
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the file is gone: %v", err)
	}
}

// testLogger logs into the suite's scanned buffer.
func testLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&suiteLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestShutdownIsBounded: on shutdown grpc.health.v1 turns NOT_SERVING while
// RPCs still drain, and a stream that never ends cannot hold the process:
// after gracePeriod the remaining connections are cut and Run returns nil.
func TestShutdownIsBounded(t *testing.T) {
	r := start(t, map[string]string{"ANTHROPIC_API_KEY": staticKey})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := healthpb.NewHealthClient(r.conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: authz.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("before the stop: %v (%v)", resp.GetStatus(), err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	if resp, err := stream.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("on stop health said %v (%v), want NOT_SERVING while the watch is still served", resp.GetStatus(), err)
	}
	if r.svc.Ready() {
		t.Error("Ready (/readyz, extauthz_ready) is still true while the service stops")
	}
	// The watch is left open: GracefulStop alone would wait for it forever.
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(gracePeriod + time.Minute): // a hang guard, not an assertion on time
		t.Fatal("Run did not return while a stream stayed open: GracefulStop is not bounded")
	}
	if _, err := stream.Recv(); err == nil {
		t.Error("the open watch was not cut")
	}
}
