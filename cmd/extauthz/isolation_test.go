package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"extauthz/internal/secret"
	"extauthz/internal/testpki"
)

// Users of the isolation tests. Neither needs to exist in /etc/passwd: the
// kernel takes numbers.
const (
	envoyUID    = 65533 // the allowed caller: Envoy
	attackerUID = 65534 // nobody: any other process in the sandbox
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// extauthzBinary builds this command once per test run, into a directory
// every user may enter, so that children running as other uids can run it.
func extauthzBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		var dir string
		if dir, buildErr = os.MkdirTemp("", "extauthz-bin-"); buildErr != nil {
			return
		}
		if buildErr = os.Chmod(dir, 0o755); buildErr != nil {
			return
		}
		builtBin = filepath.Join(dir, "extauthz")
		buildOut, buildErr = exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

// runAs runs the binary as uid:gid with args and an empty environment, as a
// process in the sandbox would, and returns its exit code and output.
func runAs(t *testing.T, bin string, uid, gid uint32, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = []string{"PATH=/usr/bin:/bin"}, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	suiteOutput.Write(out)
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v as %d: %v", args, uid, err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

// TestSandboxProcessCannotTakeTheCredential plays a process in the sandbox
// against the shipped sidecar layout, served by the real `serve`: extauthz
// on a unix socket in a directory only its group (Envoy's) can enter, with
// EXTAUTHZ_ALLOWED_CALLERS=uid:<Envoy>. Another uid, running extauthz's own
// check client, gets no credential — refused by the directory, and, when
// the directory is opened up by mistake, by the uid check — while Envoy's
// uid gets it. It needs root to run children as other users (CI runs as
// root).
func TestSandboxProcessCannotTakeTheCredential(t *testing.T) {
	if os.Geteuid() != 0 {
		// .ci/run sets EXTAUTHZ_ATTACKER_TESTS=required: in CI this test
		// must run, not pass by skipping.
		if os.Getenv("EXTAUTHZ_ATTACKER_TESTS") == "required" {
			t.Fatal("EXTAUTHZ_ATTACKER_TESTS=required, but the attacker tests need root to run children as other uids")
		}
		t.Skip("needs root to run the attacker as another uid (CI runs as root)")
	}
	bin := extauthzBinary(t)
	dir, err := os.MkdirTemp("", "extauthz-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "extauthz.sock")
	suiteOutput.Remember(staticKey)
	env := mapEnv(map[string]string{
		"ANTHROPIC_API_KEY": staticKey, "EXTAUTHZ_GRPC_ADDR": "unix:" + sock, "EXTAUTHZ_HTTP_ADDR": "off",
		"EXTAUTHZ_ADMIN_ADDR": "unix:" + filepath.Join(dir, "admin.sock"), "EXTAUTHZ_ALLOWED_CALLERS": "uid:65533",
	})
	_, stderr := background(t, env, "serve")
	waitServing(t, "unix:"+sock)
	// The layout: the directory root:envoy 0750, the socket root:envoy 0660.
	for _, err := range []error{os.Chown(dir, 0, envoyUID), os.Chmod(dir, 0o750), os.Chown(sock, 0, envoyUID)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	granted := "x-api-key: sk-ant-api03-… (fingerprint " + secret.New(staticKey).Fingerprint() + ")"
	check := []string{"check", "--addr", "unix:" + sock}

	code, out := runAs(t, bin, attackerUID, attackerUID, check...)
	if code != exitFailed || strings.Contains(out, "decision: OK") || !strings.Contains(out, "permission denied") {
		t.Errorf("another uid in the shipped layout: exit %d\n%s", code, out)
	}
	if code, out := runAs(t, bin, envoyUID, envoyUID, check...); code != exitOK || !strings.Contains(out, granted) {
		t.Errorf("Envoy's uid: exit %d\n%s", code, out)
	}

	// A mistake in the layout — the directory and socket open to all —
	// still leaves the kernel's peer credentials between the attacker and
	// the credential. Health stays open to any caller.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	code, out = runAs(t, bin, attackerUID, attackerUID, check...)
	if code != exitFailed || strings.Contains(out, "decision: OK") || !strings.Contains(out, "PermissionDenied") ||
		!strings.Contains(out, "not in EXTAUTHZ_ALLOWED_CALLERS") {
		t.Errorf("another uid on an open socket: exit %d\n%s", code, out)
	}
	if code, out := runAs(t, bin, attackerUID, attackerUID, "health", "--addr", "unix:"+sock); code != exitOK {
		t.Errorf("health for another uid: exit %d\n%s", code, out)
	}
	if !strings.Contains(stderr.String(), `"uid":65534`) || !strings.Contains(stderr.String(), "not in EXTAUTHZ_ALLOWED_CALLERS") {
		t.Errorf("the rejection is not logged with the peer's uid:\n%s", stderr)
	}
}

// TestTLSRotationThroughServe: serve picks up a new server certificate and
// a new client CA written in place, for new connections, without a
// restart; clients of the old CA are then refused.
func TestTLSRotationThroughServe(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a poll of the TLS files (up to 5 s)")
	}
	const key = "sk-ant-api03-cmd-rotation-static-key-0123456789"
	suiteOutput.Remember(key)
	dir := t.TempDir()
	issue := func(name string) (serverFiles, clientFlags []string) {
		ca := testpki.NewCA(t, name)
		ca.Secrets = &suiteOutput
		srv := ca.Issue(t, testpki.Leaf{CommonName: "extauthz", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
		cli := ca.Issue(t, testpki.Leaf{CommonName: "envoy", DNSNames: []string{"envoy.test"}})
		return []string{string(srv.CertPEM), string(srv.KeyPEM), string(ca.PEM)}, []string{
			"--cacert", testpki.WriteFile(t, dir, name+"-ca.pem", ca.PEM),
			"--cert", testpki.WriteFile(t, dir, name+"-client.crt", cli.CertPEM),
			"--key", testpki.WriteFile(t, dir, name+"-client.key", cli.KeyPEM),
		}
	}
	write := func(files []string) {
		for i, name := range []string{"tls.crt", "tls.key", "ca.crt"} {
			testpki.WriteFile(t, dir, name, []byte(files[i]))
		}
	}
	oldFiles, oldClient := issue("old")
	newFiles, newClient := issue("new")
	write(oldFiles)
	addr := freeAddr(t)
	serveMTLS(t, filesIn(dir), key, addr, "off", oldClient)

	write(newFiles) // in place, as cert-manager does
	env := mapEnv(nil)
	for deadline := time.Now().Add(30 * time.Second); ; { // a hang guard; the poll is every 5 s
		if code, _, _ := invoke(t, env, append([]string{"check", "--addr", addr}, newClient...)...); code == exitOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rotated certificate and CA were not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, _ := invoke(t, env, append([]string{"check", "--addr", addr}, oldClient...)...); code != exitFailed {
		t.Errorf("a client of the replaced CA: exit %d, want 1", code)
	}
}
