package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"extauthz/internal/callerauth"
	"extauthz/internal/secret"
	"extauthz/internal/testpki"
)

// TestTLSFlagProblemsExit2: a bad TLS flag stops check and health before
// they dial, with exit 2 and a line naming the flag.
func TestTLSFlagProblemsExit2(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	ca.Secrets = &suiteOutput
	pair, other := ca.Issue(t, testpki.Leaf{CommonName: "a"}), ca.Issue(t, testpki.Leaf{CommonName: "b"})
	dir := t.TempDir()
	cert := testpki.WriteFile(t, dir, "c.pem", pair.CertPEM)
	key := testpki.WriteFile(t, dir, "k.pem", pair.KeyPEM)
	otherKey := testpki.WriteFile(t, dir, "other.pem", other.KeyPEM)
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		args []string
		want []string // one line each
	}{
		{[]string{"check", "--cert", cert}, []string{"--cert needs --key"}},
		{[]string{"health", "--key", key}, []string{"--key needs --cert"}},
		{[]string{"check", "--cacert", missing}, []string{"--cacert: open " + missing}},
		{[]string{"health", "--cacert", key}, []string{"--cacert: " + key + " holds no PEM certificate"}},
		{[]string{"check", "--cert", missing, "--key", key}, []string{"--cert: open " + missing}},
		{[]string{"health", "--cert", cert, "--key", missing}, []string{"--key: open " + missing}},
		{[]string{"check", "--cert", cert, "--key", otherKey}, []string{"--cert/--key: tls: private key does not match public key"}},
		{[]string{"health", "--cacert", missing, "--cert", cert}, []string{"--cacert: open", "--cert needs --key"}},
	}
	for _, c := range cases {
		code, stdout, stderr := invoke(t, mapEnv(nil), c.args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != exitUsage || stdout != "" || len(lines) != len(c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %d lines", c.args, code, stdout, stderr, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(lines[i], "extauthz "+c.args[0]+": "+w) {
				t.Errorf("%q: line %q, want it to start with %q", c.args, lines[i], w)
			}
		}
	}
}

// TestCheckAndHealthOverMTLS: with --cacert, --cert and --key, check and
// health reach an mTLS listener (the default server name is the host of
// --addr, or localhost for a unix socket); without them they do not, and a
// client certificate not on the allow-list gets no credential.
func TestCheckAndHealthOverMTLS(t *testing.T) {
	const key = "sk-ant-api03-cmd-mtls-static-key-0123456789"
	suiteOutput.Remember(key)
	serverCA, clientCA := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "client CA")
	serverCA.Secrets, clientCA.Secrets = &suiteOutput, &suiteOutput
	dir := t.TempDir()
	srv := serverCA.Issue(t, testpki.Leaf{CommonName: "extauthz", DNSNames: []string{"extauthz.test", "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	files := callerauth.TLSFiles{
		CertFile:     testpki.WriteFile(t, dir, "tls.crt", srv.CertPEM),
		KeyFile:      testpki.WriteFile(t, dir, "tls.key", srv.KeyPEM),
		ClientCAFile: testpki.WriteFile(t, dir, "ca.crt", clientCA.PEM),
	}
	client := func(name, san string) []string {
		p := clientCA.Issue(t, testpki.Leaf{CommonName: name, DNSNames: []string{san}})
		return []string{
			"--cacert", testpki.WriteFile(t, dir, "server-ca.pem", serverCA.PEM),
			"--cert", testpki.WriteFile(t, dir, name+".crt", p.CertPEM),
			"--key", testpki.WriteFile(t, dir, name+".key", p.KeyPEM),
		}
	}
	envoy, stranger := client("envoy", "envoy.test"), client("stranger", "stranger.test")
	tcpAddr, unixAddr := freeAddr(t), "unix:"+filepath.Join(dir, "grpc.sock")
	serveMTLS(t, files, key, tcpAddr, "unix:"+filepath.Join(dir, "admin-tcp.sock"), envoy)
	serveMTLS(t, files, key, unixAddr, "unix:"+filepath.Join(dir, "admin-unix.sock"), envoy)
	env := mapEnv(nil)
	for _, addr := range []string{tcpAddr, unixAddr} {
		if code, stdout, stderr := invoke(t, env, append([]string{"health", "--addr", addr}, envoy...)...); code != exitOK || strings.TrimSpace(stdout) != "SERVING" {
			t.Errorf("health over mTLS at %s: exit %d %q %q", addr, code, stdout, stderr)
		}
		code, stdout, stderr := invoke(t, env, append([]string{"check", "--addr", addr, "--server-name", "extauthz.test"}, envoy...)...)
		if code != exitOK || !strings.Contains(stdout, "x-api-key: sk-ant-api03-… (fingerprint "+secret.New(key).Fingerprint()+")") {
			t.Errorf("check over mTLS at %s: exit %d\n%s%s", addr, code, stdout, stderr)
		}
		if code, _, stderr := invoke(t, env, append([]string{"check", "--addr", addr}, stranger...)...); code != exitFailed || !strings.Contains(stderr, "PermissionDenied") {
			t.Errorf("check with a certificate not on the list at %s: exit %d %q", addr, code, stderr)
		}
		if code, _, _ := invoke(t, env, "health", "--addr", addr); code != exitFailed {
			t.Errorf("plaintext health against TLS at %s: exit %d, want 1", addr, code)
		}
		if code, _, _ := invoke(t, env, "health", "--addr", addr, "--cacert", envoy[1]); code != exitFailed {
			t.Errorf("health without a client certificate at %s: exit %d, want 1", addr, code)
		}
	}
	// The admin API speaks the same TLS: a client certificate from the
	// client CA is required, and the caller list (Envoy's) does not apply.
	admin := "unix:" + filepath.Join(dir, "admin-tcp.sock")
	if code, stdout, stderr := invoke(t, env, append([]string{"status", "--addr", admin}, stranger...)...); code != exitOK || !strings.Contains(stdout, "static") {
		t.Errorf("status over mTLS: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, _ := invoke(t, env, "status", "--addr", admin, "--cacert", envoy[1]); code != exitFailed {
		t.Errorf("status without a client certificate: exit %d, want 1", code)
	}
}

// filesIn are tls.crt, tls.key and ca.crt in dir.
func filesIn(dir string) callerauth.TLSFiles {
	return callerauth.TLSFiles{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"),
		ClientCAFile: filepath.Join(dir, "ca.crt")}
}

// serveMTLS runs `extauthz serve` in static-key mode with the TLS files
// and EXTAUTHZ_ALLOWED_CALLERS=dns:envoy.test on grpcAddr (and the admin API
// on adminAddr) until the test ends, and waits until it answers health over
// TLS with the envoy client's flags.
func serveMTLS(t *testing.T, files callerauth.TLSFiles, key, grpcAddr, adminAddr string, envoyFlags []string) {
	t.Helper()
	env := mapEnv(map[string]string{
		"ANTHROPIC_API_KEY": key, "EXTAUTHZ_GRPC_ADDR": grpcAddr, "EXTAUTHZ_HTTP_ADDR": "off", "EXTAUTHZ_ADMIN_ADDR": adminAddr,
		"EXTAUTHZ_TLS_CERT_FILE": files.CertFile, "EXTAUTHZ_TLS_KEY_FILE": files.KeyFile, "EXTAUTHZ_TLS_CLIENT_CA_FILE": files.ClientCAFile,
		"EXTAUTHZ_ALLOWED_CALLERS": "dns:envoy.test",
	})
	if adminAddr == "off" {
		env = mapEnv(map[string]string{
			"ANTHROPIC_API_KEY": key, "EXTAUTHZ_GRPC_ADDR": grpcAddr, "EXTAUTHZ_HTTP_ADDR": "off", "EXTAUTHZ_ADMIN_ADDR": "off",
			"EXTAUTHZ_TLS_CERT_FILE": files.CertFile, "EXTAUTHZ_TLS_KEY_FILE": files.KeyFile, "EXTAUTHZ_TLS_CLIENT_CA_FILE": files.ClientCAFile,
			"EXTAUTHZ_ALLOWED_CALLERS": "dns:envoy.test",
		})
	}
	_, stderr := background(t, env, "serve")
	for deadline := time.Now().Add(30 * time.Second); ; { // a hang guard
		if code, _, _ := invoke(t, env, append([]string{"health", "--addr", grpcAddr}, envoyFlags...)...); code == exitOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve with TLS never answered health:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr is a loopback TCP address no one listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}
