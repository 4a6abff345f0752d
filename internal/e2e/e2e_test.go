package e2e

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/echo"
	"extauthz/internal/emulator"
	"extauthz/internal/envoymodel"
	"extauthz/internal/leakcheck"
	"extauthz/internal/secret"
)

// The client's betas, on two lines as a client may send them; the service
// must merge them, drop the federation flag and add the OAuth one.
var (
	clientBetas = []string{"tools-2024-04-04", "files-api-2025-04-14, oidc-federation-2026-04-01"}
	mergedBetas = "tools-2024-04-04,files-api-2025-04-14,oauth-2025-04-20"
)

// send makes the request a sandboxed client makes through p — its
// placeholder key, an Authorization of its own, its betas — addressed to
// host (the proxy's own address when empty). It returns the status, headers
// and body the client got, and records the body with the suite's logs.
func send(t *testing.T, p *proxy, host string) (int, http.Header, []byte) {
	t.Helper()
	return sendTo(t, p, host, "/v1/messages")
}

// sendTo is send to path.
func sendTo(t *testing.T, p *proxy, host, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.srv.URL+path, strings.NewReader(`{"model":"claude","max_tokens":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("X-Api-Key", clientKey)
	req.Header.Set("Authorization", clientBearer)
	req.Header.Set("Content-Type", "application/json")
	req.Header["Anthropic-Beta"] = clientBetas
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	logs.Write(append(body, '\n'))
	if leaks := leakcheck.Find(string(body), clientKey, clientBearer, staticKey); len(leaks) > 0 {
		t.Errorf("the client's reply holds credentials: %v", leaks)
	}
	return resp.StatusCode, resp.Header, body
}

// only returns the one request the upstream received since the last call.
func only(t *testing.T, up *upstream) seen {
	t.Helper()
	got := up.requests()
	if len(got) != 1 {
		t.Fatalf("the upstream received %d requests, want 1", len(got))
	}
	return got[0]
}

// wifBearer checks what the upstream saw in WIF mode and returns the token:
// one Authorization holding one sk-ant-oat01- bearer, the merged betas, no
// x-api-key, the route's host. Whether the emulator minted the token is
// left to callers whose tokens live long enough to ask (emulator.Valid).
func wifBearer(t *testing.T, s seen) string {
	t.Helper()
	auth := s.header.Values("Authorization")
	if len(auth) != 1 {
		t.Fatalf("the upstream saw %d Authorization values, want exactly one", len(auth))
	}
	token, ok := strings.CutPrefix(auth[0], "Bearer ")
	logs.Remember(token)
	if !ok || strings.Contains(token, ",") || !strings.HasPrefix(token, "sk-ant-oat01-") {
		t.Fatalf("the upstream's Authorization is not one sk-ant-oat01- bearer (fingerprint %s)", secret.New(auth[0]).Fingerprint())
	}
	if got := s.header.Values("Anthropic-Beta"); !slices.Equal(got, []string{mergedBetas}) {
		t.Errorf("anthropic-beta %q, want %q", got, mergedBetas)
	}
	if got := s.header.Values("X-Api-Key"); len(got) != 0 {
		t.Errorf("the client's x-api-key reached the upstream (%d values)", len(got))
	}
	if s.host != "api.anthropic.com" {
		t.Errorf("upstream host %q, want the route's api.anthropic.com", s.host)
	}
	return token
}

// checkWire fails the test if a response through p held something Envoy
// would not apply as meant (proxy.wireProblems).
func checkWire(t *testing.T, p *proxy) {
	t.Helper()
	if problems := p.wireProblems(); len(problems) > 0 {
		t.Errorf("%v: the responses relied on defaults or tried mutations Envoy ignores: %q", p.filter.Version(), problems)
	}
}

// startWIF runs the emulator minting tokens that live lifetime, the service
// against it in github-oidc mode with the compose stack's two credentials
// (team-a, team-b) and allowed hosts (serving once this returns), and the
// upstream.
func startWIF(t *testing.T, lifetime time.Duration) (*emulator.Emulator, *authzService, *upstream) {
	t.Helper()
	emu := startEmulator(t, lifetime)
	env := emu.CredentialsEnv()
	env["EXTAUTHZ_ALLOWED_HOSTS"] = composeHosts
	svc := startService(t, env)
	svc.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	return emu, svc, startUpstream(t)
}

// TestWIFThroughEveryEnvoy: a client with a placeholder key and its own
// Authorization, through each Envoy version's behaviour, reaches the
// upstream with the emulator's bearer only, and sees the echo of it as a
// fingerprint.
func TestWIFThroughEveryEnvoy(t *testing.T) {
	emu, svc, up := startWIF(t, time.Minute)
	for _, v := range envoymodel.Versions() {
		t.Run(v.String(), func(t *testing.T) {
			p := startProxy(t, v, svc, up)
			status, _, body := send(t, p, "")
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			token := wifBearer(t, only(t, up))
			if !emu.Valid(token) {
				t.Error("the upstream's bearer is not a live token the emulator minted")
			}
			var reply echo.Reply
			if err := json.Unmarshal(body, &reply); err != nil {
				t.Fatalf("the client did not get the echo reply: %v", err)
			}
			want := "Bearer sk-ant-oat01-… (fingerprint " + secret.New(token).Fingerprint() + ")"
			if got := reply.Headers["authorization"]; !slices.Equal(got, []string{want}) {
				t.Errorf("echo shows authorization %q, want %q", got, want)
			}
			checkWire(t, p)
		})
	}
	// The leak check of TestMain covers these logs: make sure they were
	// captured (the emulator's exchange, the service's new token).
	for _, want := range []string{"exchanged assertion for an access token", "new access token"} {
		if !logs.contains(want) {
			t.Errorf("the suite's logs lack %q", want)
		}
	}
}

// TestForbiddenHostThroughEveryEnvoy: a request addressed to a host outside
// EXTAUTHZ_ALLOWED_HOSTS gets extauthz's 403 and never reaches the upstream.
func TestForbiddenHostThroughEveryEnvoy(t *testing.T) {
	_, svc, up := startWIF(t, time.Minute)
	for _, v := range envoymodel.Versions() {
		t.Run(v.String(), func(t *testing.T) {
			p := startProxy(t, v, svc, up)
			status, _, body := send(t, p, "attacker.example")
			if status != http.StatusForbidden || !strings.Contains(string(body), `"type":"permission_error"`) {
				t.Errorf("status %d, body %s; want 403 permission_error", status, body)
			}
			checkWire(t, p)
			if got := up.requests(); len(got) != 0 {
				t.Errorf("a forbidden request reached the upstream")
			}
		})
	}
}

// TestOutagePastTheEdgeThroughEveryEnvoy: when the token endpoint fails
// until the token is past its servable edge, every Envoy relays extauthz's
// 503 with retry-after and an Anthropic-shaped body, nothing reaches the
// upstream, and when the endpoint heals requests go through again.
func TestOutagePastTheEdgeThroughEveryEnvoy(t *testing.T) {
	emu, svc, up := startWIF(t, 2*time.Second)
	proxies := map[envoymodel.Version]*proxy{}
	for _, v := range envoymodel.Versions() {
		proxies[v] = startProxy(t, v, svc, up)
	}

	emu.Fail(http.StatusServiceUnavailable, 0)
	svc.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING) // the token is past its edge
	for _, v := range envoymodel.Versions() {
		status, header, body := send(t, proxies[v], "")
		if status != http.StatusServiceUnavailable {
			t.Errorf("%v: status %d during the outage, want 503", v, status)
		}
		if n, err := strconv.Atoi(header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%v: retry-after %q, want whole seconds ≥ 1", v, header.Get("Retry-After"))
		}
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Type != "error" || e.Error.Type != "api_error" {
			t.Errorf("%v: body %s is not Anthropic's api_error shape", v, body)
		}
		if header.Get("Content-Type") != "application/json" {
			t.Errorf("%v: content type %q", v, header.Get("Content-Type"))
		}
	}
	if got := up.requests(); len(got) != 0 {
		t.Errorf("%d requests reached the upstream without a token", len(got))
	}

	emu.Fail(0, 0)
	svc.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	for _, v := range envoymodel.Versions() {
		if status, _, body := send(t, proxies[v], ""); status != http.StatusOK {
			t.Fatalf("%v: status %d after recovery: %s", v, status, body)
		}
		// These tokens live 2 s: asking the emulator about them would race
		// their expiry on a slow machine.
		wifBearer(t, only(t, up))
		checkWire(t, proxies[v])
	}
}

// TestStaticKeyThroughEveryEnvoy: in static-key mode the upstream gets the
// real key in x-api-key in place of the client's, and no Authorization.
func TestStaticKeyThroughEveryEnvoy(t *testing.T) {
	svc := startService(t, map[string]string{"ANTHROPIC_API_KEY": staticKey, "EXTAUTHZ_ALLOWED_HOSTS": composeHosts,
		"EXTAUTHZ_CREDENTIALS": "team-a,team-b"})
	svc.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	up := startUpstream(t)
	for _, v := range envoymodel.Versions() {
		t.Run(v.String(), func(t *testing.T) {
			p := startProxy(t, v, svc, up)
			if status, _, body := send(t, p, ""); status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			s := only(t, up)
			if got := s.header.Values("X-Api-Key"); !slices.Equal(got, []string{staticKey}) {
				t.Errorf("the upstream saw %d x-api-key values, not exactly the static key", len(got))
			}
			if got := s.header.Values("Authorization"); len(got) != 0 {
				t.Errorf("the client's Authorization reached the upstream")
			}
			if got := s.header.Values("Anthropic-Beta"); !slices.Equal(got, clientBetas) {
				t.Errorf("anthropic-beta %q: static-key mode must pass the client's betas as they are", got)
			}
			checkWire(t, p)
		})
	}
}

// TestEachRouteGetsItsCredentialThroughEveryEnvoy: local.yaml's routes
// select team-a (everything) and team-b (/team-b/, prefix removed) through
// ExtAuthzPerRoute context extensions; each reaches the upstream with a
// token of its own service account.
func TestEachRouteGetsItsCredentialThroughEveryEnvoy(t *testing.T) {
	emu, svc, up := startWIF(t, time.Minute)
	env := emu.CredentialsEnv()
	want := map[string]string{
		"/v1/messages":        env["EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"],
		"/team-b/v1/messages": env["EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"],
	}
	for _, v := range envoymodel.Versions() {
		t.Run(v.String(), func(t *testing.T) {
			p := startProxy(t, v, svc, up)
			for path, account := range want {
				if status, _, body := sendTo(t, p, "", path); status != http.StatusOK {
					t.Fatalf("%s: status %d: %s", path, status, body)
				}
				s := only(t, up)
				if got, ok := emu.ServiceAccountOf(wifBearer(t, s)); !ok || got != account {
					t.Errorf("%s reached the upstream with a token of %q, want %q", path, got, account)
				}
				if s.path != "/v1/messages" {
					t.Errorf("%s reached the upstream as %q", path, s.path)
				}
			}
			checkWire(t, p)
		})
	}
}

// TestRouteNamingAnUnknownCredentialIsForbidden: an extauthz whose
// credentials do not include the names local.yaml's routes select (one
// credential, default) answers 403 and the request goes nowhere.
func TestRouteNamingAnUnknownCredentialIsForbidden(t *testing.T) {
	emu := startEmulator(t, time.Minute)
	env := emu.Env()
	env["EXTAUTHZ_ALLOWED_HOSTS"] = composeHosts
	svc := startService(t, env)
	svc.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	up := startUpstream(t)
	p := startProxy(t, envoymodel.Envoy139, svc, up)
	status, _, body := send(t, p, "")
	if status != http.StatusForbidden || !strings.Contains(string(body), `"permission_error"`) || !strings.Contains(string(body), "team-a") {
		t.Errorf("status %d: %s", status, body)
	}
	if got := up.requests(); len(got) != 0 {
		t.Errorf("the upstream received %d requests", len(got))
	}
}

// TestLocalConfigSendsOnlyTheBeta: the CheckRequest built from
// envoy/local.yaml carries anthropic-beta and nothing else of the client's
// headers — no credential goes to extauthz.
func TestLocalConfigSendsOnlyTheBeta(t *testing.T) {
	lc := loadLocalConfig(t)
	for _, v := range envoymodel.Versions() {
		f, err := envoymodel.NewFilter(v, lc.extAuthz)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := http.NewRequest(http.MethodPost, "http://localhost:10000/v1/messages", nil)
		r.Header.Set("X-Api-Key", clientKey)
		r.Header.Set("Authorization", clientBearer)
		r.Header["Anthropic-Beta"] = clientBetas
		got := f.CheckRequest(r, envoymodel.NewHeaders(r)).GetAttributes().GetRequest().GetHttp()
		if keys := slices.Sorted(maps.Keys(got.GetHeaders())); !slices.Equal(keys, []string{"anthropic-beta"}) {
			t.Errorf("%v: CheckRequest headers %q, want only anthropic-beta", v, keys)
		}
		if got.GetHost() != "localhost:10000" {
			t.Errorf("%v: host %q", v, got.GetHost())
		}
	}
}
