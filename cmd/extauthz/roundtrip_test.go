package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/emulator"
)

const staticKey = "sk-ant-api03-cmd-test-static-key-0123456789"

func TestServeStaticKeyAndCheck(t *testing.T) {
	suiteOutput.Remember(staticKey)
	grpcAddr, httpAddr, adminAddr := sockets(t)
	env := mapEnv(map[string]string{"ANTHROPIC_API_KEY": staticKey, "EXTAUTHZ_GRPC_ADDR": grpcAddr, "EXTAUTHZ_HTTP_ADDR": httpAddr,
		"EXTAUTHZ_ADMIN_ADDR": adminAddr})
	stop, stderr := background(t, env, "serve")
	waitServing(t, grpcAddr)

	code, stdout, _ := invoke(t, env, "check") // --addr comes from EXTAUTHZ_GRPC_ADDR
	if code != exitOK {
		t.Fatalf("check exit %d:\n%s", code, stdout)
	}
	for _, want := range []string{"decision: OK", "set     x-api-key: sk-ant-api03-… (fingerprint ", "remove  authorization"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	if code, stdout, _ := invoke(t, env, "health"); code != exitOK || strings.TrimSpace(stdout) != "SERVING" {
		t.Errorf("health: exit %d, %q", code, stdout)
	}
	// The admin API of the same process: the one credential, named default.
	if code, stdout, stderr := invoke(t, env, "status"); code != exitOK || !strings.Contains(stdout, "default") || !strings.Contains(stdout, "static") {
		t.Errorf("status: exit %d:\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := invoke(t, env, "refresh", "default"); code != exitFailed || !strings.Contains(stderr, "static keys do not refresh") {
		t.Errorf("refresh of a static key: exit %d, %s", code, stderr)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve exit %d after the stop signal; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("serve did not log its stop:\n%s", stderr)
	}
	if code, _, _ := invoke(t, env, "health", "--timeout", "500ms"); code != exitFailed {
		t.Errorf("health against a stopped server: exit %d, want 1", code)
	}
}

func TestServeGitHubOIDCAndCheck(t *testing.T) {
	emu, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	m := emu.Env()
	suiteOutput.Remember(m["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	m["EXTAUTHZ_GRPC_ADDR"], m["EXTAUTHZ_HTTP_ADDR"], m["EXTAUTHZ_ADMIN_ADDR"] = sockets(t)
	m["EXTAUTHZ_ALLOWED_HOSTS"] = "api.anthropic.com"
	env := mapEnv(m)
	background(t, env, "serve")
	waitServing(t, m["EXTAUTHZ_GRPC_ADDR"])

	code, stdout, _ := invoke(t, env, "check", "--header", "anthropic-beta=files-api-2025-04-14, oidc-federation-2026-04-01")
	if code != exitOK {
		t.Fatalf("check exit %d:\n%s", code, stdout)
	}
	for _, want := range []string{
		"decision: OK",
		"set     authorization: Bearer sk-ant-oat01-… (fingerprint ",
		"set     anthropic-beta: files-api-2025-04-14,oauth-2025-04-20\n",
		"remove  x-api-key",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = invoke(t, env, "check", "--host", "attacker.example")
	if code != exitFailed || !strings.Contains(stdout, "decision: DENIED (gRPC PermissionDenied, HTTP 403)") ||
		!strings.Contains(stdout, "permission_error") {
		t.Errorf("disallowed host: exit %d:\n%s", code, stdout)
	}
}

func TestServeOIDCFile(t *testing.T) {
	emu, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	jwt, err := emu.IssueJWT("system:serviceaccount:default:agent")
	if err != nil {
		t.Fatal(err)
	}
	suiteOutput.Remember(jwt.Reveal())
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(jwt.Reveal()), 0o600); err != nil {
		t.Fatal(err)
	}
	m := emu.Env()
	delete(m, "ACTIONS_ID_TOKEN_REQUEST_URL")
	delete(m, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	m["AWF_AUTH_TYPE"], m["AWF_AUTH_OIDC_TOKEN_FILE"] = "oidc-file", file
	m["EXTAUTHZ_GRPC_ADDR"], m["EXTAUTHZ_HTTP_ADDR"], m["EXTAUTHZ_ADMIN_ADDR"] = sockets(t)
	env := mapEnv(m)
	background(t, env, "serve")
	waitServing(t, m["EXTAUTHZ_GRPC_ADDR"])
	if code, stdout, _ := invoke(t, env, "check"); code != exitOK || !strings.Contains(stdout, "Bearer sk-ant-oat01-…") {
		t.Errorf("check exit %d:\n%s", code, stdout)
	}
}

// TestDevAndCheck is the README's first command followed by `extauthz check`.
func TestDevAndCheck(t *testing.T) {
	grpcAddr, httpAddr, adminAddr := sockets(t)
	env := mapEnv(map[string]string{
		"EXTAUTHZ_GRPC_ADDR": grpcAddr, "EXTAUTHZ_HTTP_ADDR": httpAddr, "EXTAUTHZ_ADMIN_ADDR": adminAddr,
		// dev must ignore a developer's real credentials in the environment,
		// per-credential ones included.
		"ANTHROPIC_API_KEY": staticKey, "AWF_AUTH_TYPE": "oidc-file",
		"EXTAUTHZ_CREDENTIALS": "prod", "EXTAUTHZ_PROD_ANTHROPIC_API_KEY": staticKey,
		"EXTAUTHZ_PROD_AWF_AUTH_ANTHROPIC_TOKEN_URL": "https://api.anthropic.com/v1/oauth/token",
	})
	stop, stderr := background(t, env, "dev", "-token-lifetime", "30s")
	waitServing(t, grpcAddr)
	code, stdout, _ := invoke(t, env, "check", "--addr", grpcAddr)
	if code != exitOK || !strings.Contains(stdout, "authorization: Bearer sk-ant-oat01-… (fingerprint ") ||
		!strings.Contains(stdout, "remove  x-api-key") {
		t.Fatalf("check against dev: exit %d:\n%s", code, stdout)
	}
	// The README's admin commands against dev: refresh now, then the table.
	if code, stdout, stderr := invoke(t, env, "refresh", "default"); code != exitOK || !strings.Contains(stdout, "github-oidc") {
		t.Errorf("refresh default against dev: exit %d:\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := invoke(t, env, "status"); code != exitOK || !strings.Contains(stdout, "fresh") || !strings.Contains(stdout, "EXPIRES") {
		t.Errorf("status against dev: exit %d:\n%s%s", code, stdout, stderr)
	}
	if code := stop(); code != exitOK {
		t.Errorf("dev exit %d", code)
	}
	for _, want := range []string{"LOCAL EMULATOR", "new access token"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("dev log lacks %q", want)
		}
	}
}

func TestHealthNotServing(t *testing.T) {
	emu, err := emulator.Start(context.Background(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	emu.Fail(401, 0)
	m := emu.Env()
	suiteOutput.Remember(m["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	m["EXTAUTHZ_GRPC_ADDR"], m["EXTAUTHZ_HTTP_ADDR"], m["EXTAUTHZ_ADMIN_ADDR"] = sockets(t)
	env := mapEnv(m)
	_, stderr := background(t, env, "serve")
	conn, err := dial(m["EXTAUTHZ_GRPC_ADDR"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitStatus(t, conn, healthpb.HealthCheckResponse_NOT_SERVING) // the server is up, with no token
	code, stdout, _ := invoke(t, env, "check")
	if code != exitFailed || !strings.Contains(stdout, "decision: DENIED (gRPC Unavailable, HTTP 503)") ||
		!strings.Contains(stdout, "retry-after: ") || !strings.Contains(stdout, `"type":"api_error"`) {
		t.Errorf("check without a token: exit %d:\n%s", code, stdout)
	}
	if code, stdout, _ := invoke(t, env, "health"); code != exitFailed || strings.TrimSpace(stdout) != "NOT_SERVING" {
		t.Errorf("health: exit %d, %q", code, stdout)
	}
	// The first attempt's ERROR may still be on its way: NOT_SERVING holds
	// from the start, before any attempt has finished.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), `"level":"ERROR"`); {
		if time.Now().After(deadline) {
			t.Fatalf("a 401 from the token endpoint was not logged as an error:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHealthDialsWildcardOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9191", "[::]:9191", ":9191"} {
		conn, err := dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.Target(); got != "passthrough:///127.0.0.1:9191" {
			t.Errorf("dial(%q) targets %q", addr, got)
		}
		conn.Close()
	}
}
