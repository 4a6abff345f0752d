package main

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/authz"
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
	tcpAddr := serveMTLS(t, files, key, "tcp", "127.0.0.1:0")
	unixAddr := serveMTLS(t, files, key, "unix", filepath.Join(dir, "grpc.sock"))

	client := func(name, san string) []string {
		p := clientCA.Issue(t, testpki.Leaf{CommonName: name, DNSNames: []string{san}})
		return []string{
			"--cacert", testpki.WriteFile(t, dir, "server-ca.pem", serverCA.PEM),
			"--cert", testpki.WriteFile(t, dir, name+".crt", p.CertPEM),
			"--key", testpki.WriteFile(t, dir, name+".key", p.KeyPEM),
		}
	}
	envoy, stranger := client("envoy", "envoy.test"), client("stranger", "stranger.test")
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
}

// serveMTLS runs Check (behind callerauth, allowing dns:envoy.test) and
// health on network/address with files until the test ends, and returns
// the address for --addr.
func serveMTLS(t *testing.T, files callerauth.TLSFiles, key, network, address string) string {
	t.Helper()
	material, err := callerauth.LoadServerTLS(files, callerauth.TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := callerauth.ParseAllowList([]string{"dns:envoy.test"})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(&output{}, nil)) // into suiteOutput's leak check
	guard, err := callerauth.NewGuard(callerauth.Options{AllowList: list, TLS: material, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	check, err := authz.NewServer(authz.Options{Mode: authz.ModeStaticKey, Credentials: authz.StaticKey(secret.New(key)), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(guard.TransportCredentials()))
	authv3.RegisterAuthorizationServer(gs, guardedCheck{guard, check})
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	if network == "unix" {
		return "unix:" + address
	}
	return lis.Addr().String()
}

// guardedCheck is Check behind Authorize, as the service wires it.
type guardedCheck struct {
	guard *callerauth.Guard
	*authz.Server
}

func (g guardedCheck) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if err := g.guard.Authorize(ctx); err != nil {
		return nil, err
	}
	return g.Server.Check(ctx, req)
}
