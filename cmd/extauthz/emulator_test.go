package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"extauthz/internal/deployconfig"
)

// announced is a stdout that also hands over the first URL it prints, the
// address a helper command bound (they are started on port 0).
type announced struct {
	output
	once sync.Once
	url  chan string
}

var announcedURL = regexp.MustCompile(`http://[0-9.:\[\]]+`)

func newAnnounced() *announced { return &announced{url: make(chan string, 1)} }

func (a *announced) Write(p []byte) (int, error) {
	n, err := a.output.Write(p)
	if u := announcedURL.FindString(a.String()); u != "" {
		a.once.Do(func() { a.url <- u })
	}
	return n, err
}

// startHelper runs a long-lived command in-process until the test ends and
// returns the URL it announced; stop cancels it (as SIGTERM would) and
// returns its exit code.
func startHelper(t *testing.T, lookup env, args ...string) (url string, stop func() int, stderr *output) {
	t.Helper()
	stdout := newAnnounced()
	stop, stderr, exited := start(t, stdout, lookup, args...)
	select {
	case url = <-stdout.url:
	case <-exited:
		t.Fatalf("%s exited %d before announcing its address:\n%s", args[0], stop(), stderr)
	}
	return url, stop, stderr
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
// same URLs — with only the ports replaced, and asks for a decision.
func TestComposeStackServeAgainstEmulator(t *testing.T) {
	emuEnv := composeEnv(t, "emulator")
	const composeEmulator = "127.0.0.1:8080"
	if emuEnv["EXTAUTHZ_EMULATOR_ADDR"] != composeEmulator {
		t.Fatalf("compose runs the emulator on %q; this test replaces %s", emuEnv["EXTAUTHZ_EMULATOR_ADDR"], composeEmulator)
	}
	suiteOutput.Remember(emuEnv["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	emuEnv["EXTAUTHZ_EMULATOR_ADDR"] = "127.0.0.1:0"
	emuURL, stopEmu, emuLog := startHelper(t, mapEnv(emuEnv), "emulator", "-token-lifetime", "30s")
	emuAddr := strings.TrimPrefix(emuURL, "http://")

	svcEnv := composeEnv(t, "extauthz")
	for k, v := range svcEnv {
		if strings.Contains(v, composeEmulator) {
			svcEnv[k] = strings.ReplaceAll(v, composeEmulator, emuAddr)
		}
	}
	svcEnv["EXTAUTHZ_GRPC_ADDR"], svcEnv["EXTAUTHZ_HTTP_ADDR"], svcEnv["EXTAUTHZ_ADMIN_ADDR"] = sockets(t)
	env := mapEnv(svcEnv)
	stopServe, serveLog := background(t, env, "serve")
	waitServing(t, svcEnv["EXTAUTHZ_GRPC_ADDR"])

	// What Envoy asks for the README's curl: the published port's host.
	code, stdout, _ := invoke(t, env, "check", "--host", "localhost:10000", "--header", "anthropic-beta=tools-2024-04-04")
	if code != exitOK {
		t.Fatalf("check exit %d:\n%s\nserve log:\n%s\nemulator log:\n%s", code, stdout, serveLog, emuLog)
	}
	for _, want := range []string{
		"set     authorization: Bearer sk-ant-oat01-… (fingerprint ",
		"set     anthropic-beta: tools-2024-04-04,oauth-2025-04-20\n",
		"remove  x-api-key",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
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
