package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/config"
	"extauthz/internal/healthwatch"
	"extauthz/internal/leakcheck"
)

// suiteOutput records everything the commands print during the tests;
// TestMain fails the run if it holds a credential.
var suiteOutput leakcheck.Recorder

func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m, &suiteOutput)) }

// output is a goroutine-safe writer whose content also lands in suiteOutput.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	suiteOutput.Write(p)
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// mapEnv is an env of exactly the variables in m.
func mapEnv(m map[string]string) env { return config.MapEnv(m) }

// invoke runs one command to completion.
func invoke(t *testing.T, lookup env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs output
	code = run(context.Background(), args, &out, &errs, lookup)
	return code, out.String(), errs.String()
}

// background runs a long-lived command until the test ends; stop cancels it
// (as SIGTERM would) and returns its exit code.
func background(t *testing.T, lookup env, args ...string) (stop func() int, stderr *output) {
	t.Helper()
	stop, stderr, _ = start(t, &output{}, lookup, args...)
	return stop, stderr
}

// start runs a command in-process, writing to stdout, until the test ends.
// stop cancels it (as SIGTERM would), waits, and returns its exit code; it
// may be called more than once. exited is closed when the command returns.
func start(t *testing.T, stdout io.Writer, lookup env, args ...string) (stop func() int, stderr *output, exited <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &output{}
	done := make(chan struct{})
	code := -1
	go func() { code = run(ctx, args, stdout, stderr, lookup); close(done) }()
	stop = func() int { cancel(); <-done; return code }
	t.Cleanup(func() { stop() })
	return stop, stderr, done
}

// waitServing blocks until the gRPC server at addr reports SERVING.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	conn, err := dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitStatus(t, conn, healthpb.HealthCheckResponse_SERVING)
}

func waitStatus(t *testing.T, conn *grpc.ClientConn, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard only
	defer cancel()
	if err := healthwatch.Wait(ctx, conn, "", want); err != nil {
		t.Fatal(err)
	}
}

// sockets returns a unix gRPC address and HTTP address in a fresh directory.
func sockets(t *testing.T) (grpcAddr, httpAddr, adminAddr string) {
	dir := t.TempDir()
	return "unix:" + dir + "/grpc.sock", "unix:" + dir + "/http.sock", "unix:" + dir + "/admin.sock"
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := invoke(t, mapEnv(nil), "frobnicate")
	if code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := invoke(t, mapEnv(nil), "help"); code != 0 || !strings.Contains(stdout, "usage: extauthz") {
		t.Errorf("help: code %d", code)
	}
}

// TestStrayArgumentIsNamed: no command takes positional arguments; one given
// by mistake (`extauthz serve dev`) is named, with exit 2, before anything
// starts.
func TestStrayArgumentIsNamed(t *testing.T) {
	for _, cmd := range []string{"serve", "dev", "check", "health", "status", "emulator", "echo"} {
		code, stdout, stderr := invoke(t, mapEnv(nil), cmd, "stray")
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "extauthz "+cmd+`: unexpected argument "stray"`+"\n") {
			t.Errorf("%s stray: exit %d, stdout %q, stderr %q", cmd, code, stdout, stderr)
		}
	}
}

// TestConfigurationProblemsExit2 checks the command-line face of config
// validation: status 2, one line per problem naming its variable, nothing
// else on stdout or stderr (no network call, no log).
func TestConfigurationProblemsExit2(t *testing.T) {
	full := map[string]string{
		"AWF_AUTH_TYPE":                         "github-oidc",
		"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID": "fdrl_01abc",
		"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID":    "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b",
		"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_01xyz",
		"ACTIONS_ID_TOKEN_REQUEST_URL":          "https://token.actions.example/_apis/oidc/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN":        "cmd-test-request-token",
	}
	suiteOutput.Remember(full["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	with := func(changes map[string]string) map[string]string { return withEnv(full, changes) }
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no configuration at all", map[string]string{}, []string{"ANTHROPIC_API_KEY"}},
		{"rule missing", with(map[string]string{"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID": "<unset>"}), []string{"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"}},
		{"org missing", with(map[string]string{"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID": " "}), []string{"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"}},
		{"service account missing", with(map[string]string{"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": "<unset>"}), []string{"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"}},
		{"mint URL missing", with(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "<unset>"}), []string{"ACTIONS_ID_TOKEN_REQUEST_URL"}},
		{"mint token missing", with(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "<unset>"}), []string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN"}},
		{"token file missing", with(map[string]string{"AWF_AUTH_TYPE": "oidc-file"}), []string{"AWF_AUTH_OIDC_TOKEN_FILE"}},
		{"http token URL to a remote host", with(map[string]string{"AWF_AUTH_ANTHROPIC_TOKEN_URL": "http://api.anthropic.com/v1/oauth/token"}), []string{"AWF_AUTH_ANTHROPIC_TOKEN_URL"}},
		{"lookalike loopback host", with(map[string]string{"AWF_AUTH_ANTHROPIC_TOKEN_URL": "http://localhost.evil.example/v1/oauth/token"}), []string{"AWF_AUTH_ANTHROPIC_TOKEN_URL"}},
		{"unknown type", with(map[string]string{"AWF_AUTH_TYPE": "aws-oidc"}), []string{"AWF_AUTH_TYPE"}},
		{"unknown provider", with(map[string]string{"AWF_AUTH_PROVIDER": "openai"}), []string{"AWF_AUTH_PROVIDER"}},
		{"several at once", with(map[string]string{"AWF_AUTH_PROVIDER": "openai", "EXTAUTHZ_GRPC_ADDR": "nope", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "<unset>"}),
			[]string{"AWF_AUTH_PROVIDER", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "EXTAUTHZ_GRPC_ADDR"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, mapEnv(c.env), "serve")
			wantConfigProblems(t, code, stdout, stderr, c.want...)
		})
	}
}

// withEnv is a copy of base with changes applied; a change to "<unset>"
// removes the variable.
func withEnv(base, changes map[string]string) map[string]string {
	m := maps.Clone(base)
	for k, v := range changes {
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// wantConfigProblems checks the command-line face of bad configuration:
// exit 2, nothing on stdout, and on stderr one line per problem, each
// "extauthz: configuration: VAR: …", naming exactly the variables in want
// (in any order).
func wantConfigProblems(t *testing.T, code int, stdout, stderr string, want ...string) {
	t.Helper()
	if code != exitUsage || stdout != "" {
		t.Fatalf("exit %d, stdout %q; want 2 and nothing; stderr:\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for _, v := range want {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "extauthz: configuration: "+v+": ") }) {
			t.Errorf("no line names %s:\n%s", v, stderr)
		}
	}
}
