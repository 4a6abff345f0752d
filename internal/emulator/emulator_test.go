package emulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestStartRefusesNonLoopbackAddresses(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "localhost.evil.example:0"} {
		e, err := Start(context.Background(), Options{Addr: addr})
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Start(%q): %v, want ErrNotLoopback", addr, err)
		}
		if e != nil {
			e.Close()
		}
	}
}

func TestAllowNonLoopbackSkipsTheCheck(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is not assigned here, so the bind itself fails;
	// what matters is that the loopback rule did not refuse it first.
	e, err := Start(context.Background(), Options{Addr: "192.0.2.1:0", AllowNonLoopback: true, Logger: discardLogger()})
	if err == nil {
		e.Close()
		t.Skip("192.0.2.1 is assigned on this machine")
	}
	if errors.Is(err, ErrNotLoopback) {
		t.Errorf("AllowNonLoopback still refused: %v", err)
	}
}

func TestStartRejectsAnAddressWithoutPort(t *testing.T) {
	e, err := Start(context.Background(), Options{Addr: "127.0.0.1"})
	if err == nil {
		e.Close()
		t.Fatal("accepted")
	}
	if errors.Is(err, ErrNotLoopback) {
		t.Errorf("%v: a missing port is not a loopback problem", err)
	}
}

func TestStartOnLoopbackNames(t *testing.T) {
	for _, addr := range []string{"localhost:0", "127.0.0.1:0", "127.0.0.2:0", "[::1]:0"} {
		e, err := Start(context.Background(), Options{Addr: addr, Logger: discardLogger()})
		if err != nil {
			if addr == "[::1]:0" && !errors.Is(err, ErrNotLoopback) {
				t.Logf("no IPv6 loopback here: %v", err)
				continue
			}
			t.Errorf("Start(%q): %v", addr, err)
			continue
		}
		u, _ := url.Parse(e.URL())
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			t.Errorf("Start(%q) serves on %s", addr, e.URL())
		}
		e.Close()
	}
}

func TestStartRejectsUnusableLifetimes(t *testing.T) {
	for _, o := range []Options{
		{TokenLifetime: 500 * time.Millisecond},
		{TokenLifetime: -time.Minute},
		{JWTLifetime: -time.Second},
	} {
		if e, err := Start(context.Background(), o); err == nil {
			e.Close()
			t.Errorf("Start(%+v) accepted", o)
		}
	}
}

func TestEnvPointsAtTheEmulator(t *testing.T) {
	te := startEmulator(t, Options{Audience: "api://app"})
	env := te.Env()
	want := map[string]string{
		"AWF_AUTH_TYPE":                "github-oidc",
		"AWF_AUTH_PROVIDER":            "anthropic",
		"ACTIONS_ID_TOKEN_REQUEST_URL": te.URL() + "/_apis/oidc/token?api-version=2.0",
		"AWF_AUTH_ANTHROPIC_TOKEN_URL": te.URL() + "/v1/oauth/token",
		"AWF_AUTH_OIDC_AUDIENCE":       "api://app",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !taggedRule.MatchString(env["AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"]) ||
		!uuidPattern.MatchString(env["AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"]) ||
		!taggedSvac.MatchString(env["AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"]) {
		t.Error("federation IDs are not well formed")
	}
	if len(env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]) < 32 {
		t.Error("request token is short")
	}
	if len(env) != 9 {
		t.Errorf("Env has %d variables, want 9", len(env))
	}
	other := startEmulator(t, Options{})
	if other.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] == env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] {
		t.Error("two emulators share a request token")
	}
}

func TestContextEndStopsTheEmulator(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e, err := Start(ctx, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-e.served // the context's end closes the server
	client := &http.Client{Transport: &http.Transport{}}
	if resp, err := client.Get(e.URL() + jwksPath); err == nil {
		resp.Body.Close()
		t.Error("emulator still answers after its context ended")
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close after the context ended: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestStartupLogSaysItIsAnEmulator checks the startup line names what this is.
func TestStartupLogSaysItIsAnEmulator(t *testing.T) {
	te := startEmulator(t, Options{})
	first, _, _ := strings.Cut(te.logs.String(), "\n")
	if !strings.Contains(first, "LOCAL EMULATOR") || !strings.Contains(first, te.URL()) {
		t.Errorf("startup log line does not announce the local emulator and its URL: %s", first)
	}
}
