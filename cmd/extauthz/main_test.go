package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

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

// mapEnv is an env over m.
func mapEnv(m map[string]string) env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out output
	stderr = &output{}
	go func() { done <- run(ctx, args, &out, stderr, lookup) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	return stop, stderr
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
func sockets(t *testing.T) (grpcAddr, httpAddr string) {
	dir := t.TempDir()
	return "unix:" + dir + "/grpc.sock", "unix:" + dir + "/http.sock"
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
	for _, cmd := range []string{"serve", "dev", "check", "health", "emulator", "echo"} {
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
	with := func(changes map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for k, v := range changes {
			if v == "<unset>" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
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
			if code != exitUsage {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != len(c.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(c.want), stderr)
			}
			for _, v := range c.want {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, "extauthz: configuration: "+v+": ")
				}
				if !found {
					t.Errorf("no line names %s:\n%s", v, stderr)
				}
			}
		})
	}
}
