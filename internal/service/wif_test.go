package service

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/emulator"
)

// startEmulator runs the local emulator for one test and remembers its
// request token as a secret.
func startEmulator(t *testing.T, lifetime time.Duration) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(context.Background(), emulator.Options{TokenLifetime: lifetime, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	suiteLogs.Remember(emu.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	return emu
}

func bearer(t *testing.T, resp *authv3.CheckResponse) string {
	t.Helper()
	if code := resp.GetStatus().GetCode(); code != 0 {
		t.Fatalf("Check status %d, want OK; body %s", code, resp.GetDeniedResponse().GetBody())
	}
	v, ok := strings.CutPrefix(header(resp, "authorization"), "Bearer ")
	if !ok || !strings.HasPrefix(v, "sk-ant-oat01-") {
		t.Fatal("OK response carries no bearer token")
	}
	if got := header(resp, "anthropic-beta"); got != "files-api-2025-04-14,oauth-2025-04-20" {
		t.Errorf("anthropic-beta = %q", got)
	}
	if got := resp.GetOkResponse().GetHeadersToRemove(); len(got) != 1 || got[0] != "x-api-key" {
		t.Errorf("headers_to_remove = %q, want [x-api-key]", got)
	}
	return v
}

// TestGitHubOIDCOutageAndRecovery drives the whole serve wiring against the
// emulator: a first token, an outage of the token endpoint past the token's
// edge (503, NOT_SERVING, /readyz 503), and recovery without a restart.
func TestGitHubOIDCOutageAndRecovery(t *testing.T) {
	emu := startEmulator(t, 2*time.Second)
	r := start(t, emu.Env())
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	first := bearer(t, r.check(t, "api.anthropic.com"))
	if !emu.Valid(first) {
		t.Fatal("the served token is not one the emulator minted")
	}

	emu.Fail(503, 0)
	r.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING)
	resp := r.check(t, "api.anthropic.com")
	denied := resp.GetDeniedResponse()
	if resp.GetStatus().GetCode() != int32(codes.Unavailable) || denied.GetStatus().GetCode() != 503 {
		t.Fatalf("during the outage: status %d / HTTP %d, want 14 / 503", resp.GetStatus().GetCode(), denied.GetStatus().GetCode())
	}
	var retryAfter string
	for _, h := range denied.GetHeaders() {
		if h.GetHeader().GetKey() == "retry-after" {
			retryAfter = h.GetHeader().GetValue()
		}
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 {
		t.Errorf("retry-after = %q, want whole seconds ≥ 1", retryAfter)
	}
	if !strings.Contains(denied.GetBody(), `"type":"api_error"`) {
		t.Errorf("503 body is not Anthropic-shaped: %s", denied.GetBody())
	}
	if code, _ := r.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz = %d during the outage, want 503", code)
	}
	if code, _ := r.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d during the outage, want 200", code)
	}
	_, metrics := r.get(t, "/metrics")
	for _, series := range []string{"extauthz_ready 0", `extauthz_token_exchanges_total{credential="default",outcome="error"}`,
		`extauthz_checks_total{credential="default",result="unavailable"} 1`} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics during the outage lacks %s", series)
		}
	}

	emu.Fail(0, 0)
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	second := bearer(t, r.check(t, "api.anthropic.com"))
	if second == first || !emu.Valid(second) {
		t.Error("after recovery the service does not serve a new valid token")
	}
	if code, _ := r.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz = %d after recovery, want 200", code)
	}
}

func TestOIDCFileMode(t *testing.T) {
	emu := startEmulator(t, time.Minute)
	jwt, err := emu.IssueJWT("system:serviceaccount:agents:worker")
	if err != nil {
		t.Fatal(err)
	}
	suiteLogs.Remember(jwt.Reveal())
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(jwt.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := emu.Env()
	delete(env, "ACTIONS_ID_TOKEN_REQUEST_URL")
	delete(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	env["AWF_AUTH_TYPE"] = "oidc-file"
	env["AWF_AUTH_OIDC_TOKEN_FILE"] = path
	r := start(t, env)
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	if tok := bearer(t, r.check(t, "api.anthropic.com")); !emu.Valid(tok) {
		t.Error("oidc-file mode serves a token the emulator did not mint")
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the token file is gone: %v", err)
	}
}

// TestHungTokenEndpointCostsNoCheck: while every exchange hangs, Check still
// answers at once (503) because it never waits on the network.
func TestHungTokenEndpointCostsNoCheck(t *testing.T) {
	emu := startEmulator(t, time.Minute)
	emu.Hang(true)
	r := start(t, emu.Env())
	resp := r.check(t, "api.anthropic.com")
	if resp.GetStatus().GetCode() != int32(codes.Unavailable) {
		t.Fatalf("cold start with a hung endpoint: status %d, want 14", resp.GetStatus().GetCode())
	}
	if code, _ := r.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz = %d, want 503", code)
	}
	emu.Hang(false)
}

// TestOIDCFileWaitsForRotation: a refresh that comes before the kubelet has
// rewritten the token file must not present the spent JWT (a replay the
// token endpoint refuses with 401); it waits, the token passes its edge, and
// the rewritten file brings the service back.
func TestOIDCFileWaitsForRotation(t *testing.T) {
	emu := startEmulator(t, 2*time.Second)
	path := filepath.Join(t.TempDir(), "token")
	rotate := func() {
		t.Helper()
		jwt, err := emu.IssueJWT("system:serviceaccount:agents:worker")
		if err != nil {
			t.Fatal(err)
		}
		suiteLogs.Remember(jwt.Reveal())
		if err := os.WriteFile(path, []byte(jwt.Reveal()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rotate()
	env := emu.Env()
	delete(env, "ACTIONS_ID_TOKEN_REQUEST_URL")
	delete(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	env["AWF_AUTH_TYPE"], env["AWF_AUTH_OIDC_TOKEN_FILE"] = "oidc-file", path
	r := start(t, env)
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	r.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING) // refreshes wait for a new JWT
	if n := emu.Stats().Rejected; n != 0 {
		t.Fatalf("the token endpoint refused %d exchanges: a spent JWT was presented again", n)
	}
	rotate()
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	if tok := bearer(t, r.check(t, "api.anthropic.com")); !emu.Valid(tok) {
		t.Error("after rotation the service does not serve a valid token")
	}
	if n := emu.Stats().Rejected; n != 0 {
		t.Errorf("the token endpoint refused %d exchanges", n)
	}
}
