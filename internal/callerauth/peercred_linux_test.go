package callerauth

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"extauthz/internal/secret"
)

// Users the children run as. Neither needs to exist in /etc/passwd: the
// kernel takes numbers.
const (
	envoyUID    = 65533 // the allowed caller (Envoy)
	attackerUID = 65534 // nobody: a process in the sandbox
	envoyGID    = 65533
	groupOnlyID = 65532 // a user whose only claim is envoyGID
)

// TestUnixSocketCallers plays a local attacker against the unix-socket
// layout. It needs root, to run children as other users (CI runs as root).
func TestUnixSocketCallers(t *testing.T) {
	if os.Geteuid() != 0 {
		// .ci/run sets EXTAUTHZ_ATTACKER_TESTS=required: in CI this test
		// must run, not pass by skipping.
		if os.Getenv("EXTAUTHZ_ATTACKER_TESTS") == "required" {
			t.Fatal("EXTAUTHZ_ATTACKER_TESTS=required, but the attacker tests need root to run children as other uids")
		}
		t.Skip("needs root to run the attacker as another uid (CI runs as root)")
	}
	bin := childBinary(t)
	served := "ok: " + secret.New(testKey).Fingerprint()
	type child struct {
		uid, gid uint32
		want     string
	}
	attacker := child{attackerUID, attackerUID, "rpc: PermissionDenied"}
	cases := []struct {
		name     string
		dirMode  os.FileMode
		group    int
		sockMode os.FileMode
		entry    string
		children []child
	}{
		// A socket anyone can connect to: the uid check alone refuses the
		// attacker.
		{"reachable socket, uid checked", 0o755, 0, 0o666, "uid:65533",
			[]child{attacker, {envoyUID, envoyGID, served}}},
		{"reachable socket, gid checked", 0o755, 0, 0o666, "gid:65533",
			[]child{attacker, {groupOnlyID, envoyGID, served}}},
		// The recommended layout: the directory is root:envoy 0750 and the
		// socket 0660, so the attacker cannot even connect.
		{"recommended layout", 0o750, envoyGID, 0o660, "uid:65533",
			[]child{{attackerUID, attackerUID, "dial: EACCES"}, {envoyUID, envoyGID, served}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, sock := unixServer(t, c.dirMode, c.group, c.sockMode, c.entry)
			for _, ch := range c.children {
				if out := runChild(t, bin, sock, ch.uid, ch.gid); out != ch.want {
					t.Errorf("child %d:%d got %q, want %q", ch.uid, ch.gid, out, ch.want)
				}
			}
			rejected := strings.Contains(h.logs.String(), `"uid":65534,"gid":65534`) && h.obs.rejected.Load() == 1
			if wantRejected := c.children[0].want == attacker.want; rejected != wantRejected {
				t.Errorf("rejection logged with the peer's uid and counted: %v, want %v:\n%s", rejected, wantRejected, h.logs)
			}
		})
	}
}

// childBinary copies the test binary where other users can run it.
func childBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "callerauth-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "callerauth.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// unixServer serves on a socket with mode sockMode in a fresh directory
// with mode dirMode, owned by root and group gid.
func unixServer(t *testing.T, dirMode os.FileMode, gid int, sockMode os.FileMode, allowed ...string) (*harness, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "callerauth-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "extauthz.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{
		os.Chown(dir, 0, gid), os.Chmod(dir, dirMode),
		os.Chown(sock, 0, gid), os.Chmod(sock, sockMode),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	h := newHarness(t)
	h.serve(lis, allowed...)
	return h, sock
}

// runChild runs the test binary as uid:gid against sock and returns the line
// it printed.
func runChild(t *testing.T, bin, sock string, uid, gid uint32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{childEnv + "=" + sock, "PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	suiteLogs.Write(out)
	if err != nil {
		t.Fatalf("child as %d:%d: %v\n%s", uid, gid, err, out)
	}
	return strings.TrimSpace(string(out))
}
