package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/deployconfig"
	"extauthz/internal/healthwatch"
)

// announced is a stdout that also hands over the first URL it prints, the
// address a helper command bound (they are started on port 0). A private one
// keeps what it records out of suiteOutput: the emulator prints its request
// token on stdout on purpose, and tests check that stdout on its own.
type announced struct {
	output
	private bool
	buf     bytes.Buffer
	mu      sync.Mutex
	once    sync.Once
	url     chan string
}

var announcedURL = regexp.MustCompile(`http://[0-9.:\[\]]+`)

func newAnnounced() *announced { return &announced{url: make(chan string, 1)} }

func (a *announced) Write(p []byte) (int, error) {
	text := ""
	if a.private {
		a.mu.Lock()
		a.buf.Write(p)
		text = a.buf.String()
		a.mu.Unlock()
	} else {
		a.output.Write(p)
		text = a.output.String()
	}
	if u := announcedURL.FindString(text); u != "" {
		a.once.Do(func() { a.url <- u })
	}
	return len(p), nil
}

// String is everything written so far.
func (a *announced) String() string {
	if !a.private {
		return a.output.String()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

// startHelper runs a long-lived command in-process until the test ends and
// returns the URL it announced; stop cancels it (as SIGTERM would) and
// returns its exit code.
func startHelper(t *testing.T, lookup env, args ...string) (url string, stop func() int, stderr *output) {
	t.Helper()
	url, stop, _, stderr = startAnnouncing(t, newAnnounced(), lookup, args...)
	return url, stop, stderr
}

// startEmulatorCmd is startHelper for `extauthz emulator`, whose stdout
// (with the request token in it) stays out of suiteOutput and is returned.
func startEmulatorCmd(t *testing.T, lookup env, args ...string) (url string, stop func() int, stdout *announced, stderr *output) {
	t.Helper()
	out := newAnnounced()
	out.private = true
	return startAnnouncing(t, out, lookup, append([]string{"emulator"}, args...)...)
}

func startAnnouncing(t *testing.T, stdout *announced, lookup env, args ...string) (url string, stop func() int, _ *announced, stderr *output) {
	t.Helper()
	stop, stderr, exited := start(t, stdout, lookup, args...)
	select {
	case url = <-stdout.url:
	case <-exited:
		t.Fatalf("%s exited %d before announcing its address:\n%s", args[0], stop(), stderr)
	}
	return url, stop, stdout, stderr
}

// composeEnv is the environment docker-compose.yaml gives service.
func composeEnv(t *testing.T, service string) map[string]string {
	t.Helper()
	project, err := deployconfig.LoadCompose(context.Background(), "../../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := project.Services[service]
	if !ok {
		t.Fatalf("docker-compose.yaml has no service %q", service)
	}
	m := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

// TestComposeStackServeAgainstEmulator runs the compose stack's extauthz and
// emulator services as compose configures them — same identity variables,
// two credentials, same URLs — with only the addresses replaced, and asks
// for a decision per credential as Envoy's routes would, over the socket
// with context_extensions.
func TestComposeStackServeAgainstEmulator(t *testing.T) {
	emuEnv := composeEnv(t, "emulator")
	const composeEmulator = "127.0.0.1:8080"
	if emuEnv["EXTAUTHZ_EMULATOR_ADDR"] != composeEmulator {
		t.Fatalf("compose runs the emulator on %q; this test replaces %s", emuEnv["EXTAUTHZ_EMULATOR_ADDR"], composeEmulator)
	}
	suiteOutput.Remember(emuEnv["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	emuEnv["EXTAUTHZ_EMULATOR_ADDR"] = "127.0.0.1:0"
	emuURL, stopEmu, _, emuLog := startEmulatorCmd(t, mapEnv(emuEnv), "-token-lifetime", "30s")
	emuAddr := strings.TrimPrefix(emuURL, "http://")

	svcEnv := composeEnv(t, "extauthz")
	for k, v := range svcEnv {
		if strings.Contains(v, composeEmulator) {
			svcEnv[k] = strings.ReplaceAll(v, composeEmulator, emuAddr)
		}
	}
	svcEnv["EXTAUTHZ_GRPC_ADDR"], svcEnv["EXTAUTHZ_HTTP_ADDR"], svcEnv["EXTAUTHZ_ADMIN_ADDR"] = sockets(t)
	// Compose admits only Envoy's uid; here the test process plays Envoy.
	svcEnv["EXTAUTHZ_ALLOWED_CALLERS"] = "uid:" + strconv.Itoa(os.Getuid())
	stopServe, serveLog := serveUntilServing(t, svcEnv)

	conn, err := dial(svcEnv["EXTAUTHZ_GRPC_ADDR"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bearers := map[string]string{}
	for name := range strings.SplitSeq(svcEnv["EXTAUTHZ_CREDENTIALS"], ",") {
		// What Envoy asks for docs/deploy-compose.md's curl on the route that selects name.
		resp, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), &authv3.CheckRequest{
			Attributes: &authv3.AttributeContext{
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
					Method: "POST", Path: "/v1/messages", Host: "localhost:10000", Scheme: "http",
					Headers: map[string]string{"anthropic-beta": "tools-2024-04-04"},
				}},
				ContextExtensions: map[string]string{"credential": name},
			},
		})
		if err != nil || resp.GetStatus().GetCode() != 0 {
			t.Fatalf("Check for %s: %v %v\nserve log:\n%s\nemulator log:\n%s", name, err, resp.GetStatus(), serveLog, emuLog)
		}
		for _, h := range resp.GetOkResponse().GetHeaders() {
			if h.GetHeader().GetKey() == "authorization" {
				bearers[name] = h.GetHeader().GetValue()
			}
		}
		if !strings.HasPrefix(bearers[name], "Bearer sk-ant-oat01-") {
			t.Errorf("%s: no sk-ant-oat01- bearer in the OK response", name)
		}
	}
	if len(bearers) != 2 || bearers["team-a"] == bearers["team-b"] {
		t.Errorf("got %d bearers for %s; want two different ones", len(bearers), svcEnv["EXTAUTHZ_CREDENTIALS"])
	}
	if code := stopServe(); code != exitOK {
		t.Errorf("serve exit %d", code)
	}
	if code := stopEmu(); code != exitOK {
		t.Errorf("emulator exit %d after the stop signal", code)
	}
	for _, want := range []string{"LOCAL EMULATOR", "exchanged assertion for an access token", "local emulator stopped"} {
		if !strings.Contains(emuLog.String(), want) {
			t.Errorf("emulator log lacks %q:\n%s", want, emuLog)
		}
	}
}

// TestEmulatorPrintsWhatToExport: a newcomer copies the emulator's stdout
// into a shell and `serve` (one credential or several) works against it.
// A request token the emulator made is in those lines and in no log line;
// one taken from the environment — in a GitHub Actions job, the job's real
// one — is printed nowhere, the lines refer to the shell's variable.
func TestEmulatorPrintsWhatToExport(t *testing.T) {
	const requestToken = "cmd-emulator-exports-request-token"
	suiteOutput.Remember(requestToken)
	base := map[string]string{"EXTAUTHZ_EMULATOR_ADDR": "127.0.0.1:0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken}
	for name, tt := range map[string]struct {
		env         map[string]string
		credentials string
	}{
		"example credentials": {base, "team-a,team-b"},
		"configured credentials": {withEnv(base, map[string]string{
			"EXTAUTHZ_CREDENTIALS": "ops,research", "EXTAUTHZ_OPS_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_ops",
		}), "ops,research"},
		"a request token of its own": {map[string]string{"EXTAUTHZ_EMULATOR_ADDR": "127.0.0.1:0"}, "team-a,team-b"},
	} {
		t.Run(name, func(t *testing.T) {
			url, stop, stdout, stderr := startEmulatorCmd(t, mapEnv(tt.env))
			defer stop()
			one, several, sdk := parseExports(t, stdout.String())
			given := tt.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] != ""
			if given && strings.Contains(stdout.String(), requestToken) {
				t.Error("the request token from the environment is printed")
			}
			wantToken := "$ACTIONS_ID_TOKEN_REQUEST_TOKEN"
			if !given {
				wantToken = one["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] // the emulator's own, printed for the newcomer
				suiteOutput.Remember(wantToken)
				if len(wantToken) < 16 || strings.HasPrefix(wantToken, "$") {
					t.Errorf("the emulator's own request token is not printed")
				}
			}
			for block, env := range map[string]map[string]string{"one credential": one, "several": several} {
				if env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] != wantToken || !strings.HasPrefix(env["AWF_AUTH_ANTHROPIC_TOKEN_URL"], url+"/") ||
					!strings.HasPrefix(env["ACTIONS_ID_TOKEN_REQUEST_URL"], url+"/") || env["AWF_AUTH_TYPE"] != "github-oidc" {
					t.Errorf("%s: exports %v do not point serve at %s with the request token", block, keys(env), url)
				}
			}
			if several["EXTAUTHZ_CREDENTIALS"] != tt.credentials {
				t.Errorf("EXTAUTHZ_CREDENTIALS = %q, want %q", several["EXTAUTHZ_CREDENTIALS"], tt.credentials)
			}
			if got := several["EXTAUTHZ_OPS_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"]; tt.env["EXTAUTHZ_CREDENTIALS"] != "" && got != "svac_ops" {
				t.Errorf("ops's service account = %q, want the configured svac_ops", got)
			}
			if sdk["ANTHROPIC_BASE_URL"] != url || sdk["ANTHROPIC_SERVICE_ACCOUNT_ID"] != one["AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"] {
				t.Errorf("SDK exports %v do not name this emulator and its service account", sdk)
			}
			if strings.Contains(stderr.String(), requestToken) || !given && strings.Contains(stderr.String(), wantToken) {
				t.Error("the request token is in the emulator's log")
			}

			// The printed variables, as exported, let serve exchange: SERVING means every
			// credential holds a token.
			for _, exports := range []map[string]string{one, several} {
				env := maps.Clone(exports)
				if given {
					env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = requestToken // what the shell expands
				}
				env["EXTAUTHZ_GRPC_ADDR"], env["EXTAUTHZ_HTTP_ADDR"], env["EXTAUTHZ_ADMIN_ADDR"] = sockets(t)
				stopServe, serveLog := serveUntilServing(t, env)
				if code := stopServe(); code != exitOK {
					t.Errorf("serve exit %d:\n%s", code, serveLog)
				}
			}
		})
	}
}

// serveUntilServing runs serve on env until the test ends and waits until it
// reports SERVING, failing at once, with its log, if it exits first.
func serveUntilServing(t *testing.T, env map[string]string) (stop func() int, stderr *output) {
	t.Helper()
	stop, stderr, exited := start(t, &output{}, mapEnv(env), "serve")
	conn, err := dial(env["EXTAUTHZ_GRPC_ADDR"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard only
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := healthwatch.Wait(ctx, conn, "", healthpb.HealthCheckResponse_SERVING); err != nil {
		select {
		case <-exited:
			t.Fatalf("serve exited %d before SERVING:\n%s", stop(), stderr)
		default:
			t.Fatalf("%v\nserve log:\n%s", err, stderr)
		}
	}
	return stop, stderr
}

// parseExports reads the emulator's three blocks of `export NAME='value'`
// lines: serve with one credential, with several, and an SDK.
func parseExports(t *testing.T, stdout string) (one, several, sdk map[string]string) {
	t.Helper()
	var blocks []map[string]string
	for _, block := range strings.Split(stdout, "\n\n") {
		env := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			rest, ok := strings.CutPrefix(line, "export ")
			if !ok {
				continue
			}
			name, quoted, _ := strings.Cut(rest, "=")
			if quoted == `"$`+name+`"  # as in your environment` {
				env[name] = "$" + name // the shell's own value
				continue
			}
			value, ok := strings.CutPrefix(quoted, "'")
			if value, ok = strings.CutSuffix(value, "'"); !ok || len(quoted) < 2 || strings.Contains(value, "'") {
				t.Fatalf("line %q is not export NAME='value'", line)
			}
			env[name] = value
		}
		if len(env) > 0 {
			blocks = append(blocks, env)
		}
	}
	if len(blocks) != 3 {
		t.Fatalf("%d blocks of exports, want 3:\n%s", len(blocks), stdout)
	}
	return blocks[0], blocks[1], blocks[2]
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func TestEmulatorConfigurationProblemsExit2(t *testing.T) {
	good := map[string]string{
		"EXTAUTHZ_EMULATOR_ADDR":                "127.0.0.1:0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN":        "cmd-emulator-request-token",
		"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID": "fdrl_01abc",
		"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID":    "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b",
		"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_01xyz",
	}
	suiteOutput.Remember(good["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	with := func(changes map[string]string) map[string]string { return withEnv(good, changes) }
	cases := []struct {
		name  string
		env   map[string]string
		flags []string
		want  []string
	}{
		{"rule", with(map[string]string{"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID": "rule-1"}), nil, []string{"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"}},
		{"organisation", with(map[string]string{"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID": "org_1"}), nil, []string{"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"}},
		{"service account", with(map[string]string{"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_a-b"}), nil, []string{"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"}},
		{"request token", with(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "a\x00b"}), nil, []string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN"}},
		{"audience", with(map[string]string{"AWF_AUTH_OIDC_AUDIENCE": "a\x7fb"}), nil, []string{"AWF_AUTH_OIDC_AUDIENCE"}},
		{"address without port", with(map[string]string{"EXTAUTHZ_EMULATOR_ADDR": "127.0.0.1"}), nil, []string{"EXTAUTHZ_EMULATOR_ADDR"}},
		{"address not loopback", with(map[string]string{"EXTAUTHZ_EMULATOR_ADDR": "0.0.0.0:8080"}), nil, []string{"EXTAUTHZ_EMULATOR_ADDR"}},
		{"lifetime", good, []string{"-token-lifetime", "500ms"}, []string{"-token-lifetime"}},
		{"several at once", with(map[string]string{"EXTAUTHZ_EMULATOR_ADDR": "example.com:80", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID": "x"}), nil,
			[]string{"EXTAUTHZ_EMULATOR_ADDR", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, mapEnv(c.env), append([]string{"emulator"}, c.flags...)...)
			wantConfigProblems(t, code, stdout, stderr, c.want...)
		})
	}
}

// TestHelperCommandsStopOnSignal runs the real binary's emulator and echo
// commands: SIGTERM or SIGINT must stop them with exit 0.
func TestHelperCommandsStopOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "extauthz")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		command, addrVar string
		sig              syscall.Signal
	}{
		{"emulator", "EXTAUTHZ_EMULATOR_ADDR", syscall.SIGTERM},
		{"emulator", "EXTAUTHZ_EMULATOR_ADDR", syscall.SIGINT},
		{"echo", "EXTAUTHZ_ECHO_ADDR", syscall.SIGTERM},
		{"echo", "EXTAUTHZ_ECHO_ADDR", syscall.SIGINT},
	} {
		t.Run(c.command+"/"+c.sig.String(), func(t *testing.T) {
			stdout, stderr := newAnnounced(), &output{}
			cmd := exec.Command(bin, c.command)
			cmd.Env = append(os.Environ(), c.addrVar+"=127.0.0.1:0")
			cmd.Stdout, cmd.Stderr = stdout, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			select {
			case <-stdout.url: // serving
			case <-time.After(30 * time.Second): // a hang guard, not an assertion
				t.Fatalf("no address announced:\n%s", stderr)
			}
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit after %v: %v\n%s", c.sig, err, stderr)
			}
			if !bytes.Contains([]byte(stderr.String()), []byte("stopped")) {
				t.Errorf("no stop logged:\n%s", stderr)
			}
		})
	}
}
