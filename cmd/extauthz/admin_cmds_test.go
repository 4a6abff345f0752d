package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"extauthz/internal/admin"
	"extauthz/internal/secret"
	"extauthz/internal/tokens"
)

// The credentials behind the test admin server; none may be printed.
const (
	adminTestToken  = "sk-ant-oat01-cmd-admin-test-token-AbC0123456789"
	adminTestToken2 = "sk-ant-oat01-cmd-admin-test-token-second-XyZ987"
	adminTestKey    = "sk-ant-api03-cmd-admin-test-static-key-0123456"
)

// adminClock is the fixed "now" of the golden outputs.
var adminClock = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return adminClock }

// fakeCredential is an admin.Credential with a settable status; RefreshNow
// runs refresh.
type fakeCredential struct {
	name    string
	info    admin.Info
	mu      sync.Mutex
	st      tokens.Status
	refresh func() (tokens.Status, error)
}

func (f *fakeCredential) Name() string     { return f.name }
func (f *fakeCredential) Info() admin.Info { return f.info }
func (f *fakeCredential) Status() tokens.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
func (f *fakeCredential) RefreshNow(context.Context) (tokens.Status, error) {
	st, err := f.refresh()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	return st, err
}

// testToken is a token sent at adminClock+sent lasting l.
func testToken(value string, sent, l time.Duration, generation uint64) *tokens.Token {
	t0 := adminClock.Add(sent)
	return &tokens.Token{Value: secret.New(value), Sent: t0, Expiry: t0.Add(l), Edge: t0.Add(l - min(30*time.Second, l/10)), Generation: generation}
}

func wif(mode admin.Mode, account string) admin.Info {
	return admin.Info{Mode: mode, FederationRuleID: "fdrl_cmd", OrganizationID: "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b", ServiceAccountID: account}
}

// adminFixture: team-a fresh (expires in 7m12s, refresh in 3m), team-b stale
// (two failures, expires in 42s), a static key.
func adminFixture() []admin.Credential {
	a := &fakeCredential{name: "team-a", info: wif(admin.ModeGitHubOIDC, "svac_a")}
	a.st = tokens.Status{Ready: true, Token: testToken(adminTestToken, -2*time.Minute-48*time.Second, 10*time.Minute, 3),
		NextAttempt: adminClock.Add(3 * time.Minute)}
	a.refresh = func() (tokens.Status, error) {
		return tokens.Status{Ready: true, Token: testToken(adminTestToken2, 0, 10*time.Minute, 4), NextAttempt: adminClock.Add(5*time.Minute + 30*time.Second)}, nil
	}
	b := &fakeCredential{name: "team-b", info: wif(admin.ModeOIDCFile, "svac_b")}
	b.st = tokens.Status{Ready: true, Token: testToken(adminTestToken2, -9*time.Minute-18*time.Second, 10*time.Minute, 1),
		ConsecutiveFailures: 2, NextAttempt: adminClock.Add(4 * time.Second),
		LastError: "token endpoint: HTTP 503 Service Unavailable: overloaded (echoed " + adminTestToken + ")"}
	b.refresh = func() (tokens.Status, error) {
		st := b.Status()
		st.ConsecutiveFailures++
		return st, errors.New(st.LastError)
	}
	return []admin.Credential{a, b, admin.StaticKey("static", secret.New(adminTestKey))}
}

// startAdmin serves an admin API over creds on network/address until the
// test ends and returns the address to dial. Its rate limit's clock stands
// still at adminClock, so the wait it reports is exact.
func startAdmin(t *testing.T, network, address string, creds ...admin.Credential) string {
	t.Helper()
	suiteOutput.Remember(adminTestToken, adminTestToken2, adminTestKey)
	s, err := admin.NewServer(admin.Options{Credentials: creds, Logger: slog.New(slog.NewTextHandler(&suiteOutput, nil)), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	g := s.GRPCServer()
	go g.Serve(lis)
	t.Cleanup(func() { s.Close(); g.GracefulStop() })
	if network == "unix" {
		return "unix:" + address
	}
	return lis.Addr().String()
}

// call runs fn (a command with a clock) at adminClock.
func call(fn func(context.Context, []string, *output, *output, env, func() time.Time) int, lookup env, args ...string) (int, string, string) {
	var stdout, stderr output
	code := fn(context.Background(), args, &stdout, &stderr, lookup, fixedNow)
	return code, stdout.String(), stderr.String()
}

func statusAt(ctx context.Context, args []string, stdout, stderr *output, lookup env, now func() time.Time) int {
	return showStatus(ctx, args, stdout, stderr, lookup, now)
}

func refreshAt(ctx context.Context, args []string, stdout, stderr *output, lookup env, now func() time.Time) int {
	return requestRefresh(ctx, args, stdout, stderr, lookup, now)
}

func TestStatusTable(t *testing.T) {
	addr := startAdmin(t, "tcp", "127.0.0.1:0", adminFixture()...)
	code, stdout, stderr := call(statusAt, mapEnv(nil), "--addr", addr)
	fpA, fpB, fpK := secret.New(adminTestToken).Fingerprint(), secret.New(adminTestToken2).Fingerprint(), secret.New(adminTestKey).Fingerprint()
	want := `NAME    MODE         STATE  FINGERPRINT  GENERATION  EXPIRES   NEXT REFRESH  FAILURES  LAST ERROR
team-a  github-oidc  fresh  ` + fpA + `     3           in 7m12s  in 3m         0         -
team-b  oidc-file    stale  ` + fpB + `     1           in 42s    in 4s         2         token endpoint: HTTP 503 Service Unavailable: overloaded (echoed [REDACTED])
static  static       fresh  ` + fpK + `     1           -         -             0         -
`
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
}

// TestStatusExitCode: 1 as soon as one credential is not servable (no token
// or expired), with the table still printed.
func TestStatusExitCode(t *testing.T) {
	expired := &fakeCredential{name: "old", info: wif(admin.ModeOIDCFile, "svac_o")}
	expired.st = tokens.Status{Token: testToken(adminTestToken, -12*time.Minute, 10*time.Minute, 9), ConsecutiveFailures: 30,
		NextAttempt: adminClock.Add(time.Minute), LastError: "dial tcp 127.0.0.1:1: connect: connection refused"}
	cold := &fakeCredential{name: "cold", info: wif(admin.ModeGitHubOIDC, "svac_c")}
	addr := startAdmin(t, "tcp", "127.0.0.1:0", append(adminFixture(), expired, cold)...)
	code, stdout, _ := call(statusAt, mapEnv(nil), "--addr", addr)
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"old oidc-file expired " + secret.New(adminTestToken).Fingerprint() + " 9 2m ago in 1m 30 dial tcp 127.0.0.1:1: connect: connection refused",
		"cold github-oidc no-token - 0 - - 0 -",
	} {
		if !slices.ContainsFunc(strings.Split(stdout, "\n"), func(l string) bool { return strings.Join(strings.Fields(l), " ") == want }) {
			t.Errorf("table lacks the row %q:\n%s", want, stdout)
		}
	}
}

// TestStatusJSON: --json is the ListCredentials response with the .proto
// field names, every field present, indented stably.
func TestStatusJSON(t *testing.T) {
	addr := startAdmin(t, "tcp", "127.0.0.1:0", adminFixture()[0])
	code, stdout, stderr := call(statusAt, mapEnv(map[string]string{"EXTAUTHZ_ADMIN_ADDR": addr}), "--json")
	want := `{
  "credentials": [
    {
      "name": "team-a",
      "mode": "CREDENTIAL_MODE_GITHUB_OIDC",
      "state": "CREDENTIAL_STATE_FRESH",
      "token_fingerprint": "` + secret.New(adminTestToken).Fingerprint() + `",
      "generation": "3",
      "issued_at": "2026-12-03T11:57:12Z",
      "expires_at": "2026-12-03T12:07:12Z",
      "servable_until": "2026-12-03T12:06:42Z",
      "next_refresh_at": "2026-12-03T12:03:00Z",
      "consecutive_failures": 0,
      "last_error": "",
      "federation_rule_id": "fdrl_cmd",
      "organization_id": "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b",
      "service_account_id": "svac_a",
      "workspace_id": ""
    }
  ]
}
`
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Error(err)
	}
}

func TestRefreshCommand(t *testing.T) {
	addr := startAdmin(t, "tcp", "127.0.0.1:0", adminFixture()...)
	code, stdout, stderr := call(refreshAt, mapEnv(nil), "team-a", "--addr", addr)
	want := `NAME    MODE         STATE  FINGERPRINT  GENERATION  EXPIRES  NEXT REFRESH  FAILURES  LAST ERROR
team-a  github-oidc  fresh  ` + secret.New(adminTestToken2).Fingerprint() + `     4           in 10m   in 5m30s      0         -
`
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("refresh team-a: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", addr, "team-a"}, "extauthz refresh: ResourceExhausted: credential \"team-a\" was refreshed on request less than 5s ago; try again in 5s\n"},
		{[]string{"--addr", addr, "team-b"}, "extauthz refresh: Unavailable: refresh of credential \"team-b\" failed: token endpoint: HTTP 503 Service Unavailable: overloaded (echoed [REDACTED])\n"},
		{[]string{"--addr", addr, "static"}, "extauthz refresh: FailedPrecondition: credential \"static\" is a static key: static keys do not refresh\n"},
		{[]string{"--addr", addr, "team-c"}, "extauthz refresh: NotFound: no credential named \"team-c\"; configured: team-a, team-b, static\n"},
		{[]string{"--addr", addr, adminTestToken}, "extauthz refresh: NotFound: no credential by that name (" + strconv.Itoa(len(adminTestToken)) +
			" bytes, not a credential name: [a-z][a-z0-9-]{0,31}); configured: team-a, team-b, static\n"},
	} {
		code, stdout, stderr := call(refreshAt, mapEnv(nil), c.args...)
		if code != exitFailed || stdout != "" || stderr != c.want { // c.args may hold a credential: not printed
			t.Errorf("refresh: exit %d, stdout %q, stderr:\n%q\nwant\n%q", code, stdout, stderr, c.want)
		}
	}
}

// TestAdminCommandsThroughRun: the dispatcher, a unix socket, the default
// address from EXTAUTHZ_ADMIN_ADDR, usage errors (2) and a failed call (1).
func TestAdminCommandsThroughRun(t *testing.T) {
	sock := startAdmin(t, "unix", t.TempDir()+"/admin.sock", adminFixture()...)
	lookup := mapEnv(map[string]string{"EXTAUTHZ_ADMIN_ADDR": sock})
	if code, stdout, stderr := invoke(t, lookup, "status"); code != exitOK || !strings.HasPrefix(stdout, "NAME ") || stderr != "" {
		t.Errorf("status over %s: exit %d, stdout %q, stderr %q", sock, code, stdout, stderr)
	}
	if code, stdout, _ := invoke(t, lookup, "refresh", "team-a"); code != exitOK || !strings.Contains(stdout, "team-a  github-oidc  fresh") {
		t.Errorf("refresh over %s: exit %d, stdout %q", sock, code, stdout)
	}
	for _, args := range [][]string{
		{"status", "--bogus"},
		{"status", "stray"},
		{"refresh"},
		{"refresh", "--addr", sock},
		{"refresh", "team-a", "stray"},
		{"refresh", "team-a", "--bogus"},
	} {
		if code, stdout, _ := invoke(t, lookup, args...); code != exitUsage || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q; want 2", args, code, stdout)
		}
	}
	off := mapEnv(map[string]string{"EXTAUTHZ_ADMIN_ADDR": "off"})
	if code, _, stderr := invoke(t, off, "status"); code != exitUsage || !strings.Contains(stderr, "EXTAUTHZ_ADMIN_ADDR=off") {
		t.Errorf("status with the admin API off: exit %d, stderr %q", code, stderr)
	}
	gone := "unix:" + t.TempDir() + "/nothing.sock"
	for _, args := range [][]string{{"status", "--addr", gone}, {"refresh", "team-a", "--addr", gone}} {
		if code, _, stderr := invoke(t, lookup, args...); code != exitFailed || !strings.Contains(stderr, "Unavailable") {
			t.Errorf("%q: exit %d, stderr %q; want 1", args, code, stderr)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 42 * time.Second: "42s", 7*time.Minute + 12*time.Second: "7m12s", 3 * time.Minute: "3m",
		time.Hour + 5*time.Minute + 9*time.Second: "1h5m", 26 * time.Hour: "26h",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
