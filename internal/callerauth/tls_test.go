package callerauth

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"extauthz/internal/testpki"
)

// gatewayNS is an allow-list entry for everything below a namespace.
const gatewayNS = "spiffe://cluster.local/ns/egress-2/*"

// mtlsServer is a TLS server that requires client certificates from
// clientCA and allows gatewayID, everything below gatewayNS and envoyDNS.
type mtlsServer struct {
	*harness
	serverCA, clientCA *testpki.CA
	files              TLSFiles
}

func startMTLS(t *testing.T) *mtlsServer {
	s := &mtlsServer{harness: newHarness(t), serverCA: newCA(t, "server CA"), clientCA: newCA(t, "client CA")}
	s.files = pemFiles(t, s.serverCA.Issue(t, serverLeaf), s.clientCA)
	s.loadTLS(s.files)
	s.serve(listenTCP(t), gatewayID, gatewayNS, "dns:"+envoyDNS)
	return s
}

// client is a client with a certificate from ca carrying l's SANs.
func (s *mtlsServer) client(t *testing.T, ca *testpki.CA, l testpki.Leaf) credentials.TransportCredentials {
	c := ca.Issue(t, l)
	return clientTLS(s.serverCA, &c, nil)
}

// TestTLSCallers plays the attackers a TLS listener faces: only a client
// whose verified certificate carries a listed SAN gets the credential.
func TestTLSCallers(t *testing.T) {
	s := startMTLS(t)
	stranger := newCA(t, "stranger CA")
	cases := []struct {
		name      string
		creds     credentials.TransportCredentials
		want      codes.Code
		handshake bool // the TLS handshake itself fails
	}{
		{"allowed SPIFFE ID", s.client(t, s.clientCA, testpki.Leaf{CommonName: "gw", URIs: []string{gatewayID}}), codes.OK, false},
		{"allowed SPIFFE prefix", s.client(t, s.clientCA, testpki.Leaf{CommonName: "gw2", URIs: []string{"spiffe://cluster.local/ns/egress-2/sa/gw"}}), codes.OK, false},
		{"allowed DNS SAN", s.client(t, s.clientCA, testpki.Leaf{CommonName: "envoy", DNSNames: []string{"Envoy.Egress.Svc"}}), codes.OK, false},
		{"URI SAN not on the list", s.client(t, s.clientCA, testpki.Leaf{CommonName: "wl", URIs: []string{"spiffe://cluster.local/ns/egress/sa/workload"}}), codes.PermissionDenied, false},
		{"sibling of the prefix", s.client(t, s.clientCA, testpki.Leaf{CommonName: "wl", URIs: []string{"spiffe://cluster.local/ns/egress-20/sa/gw"}}), codes.PermissionDenied, false},
		{"DNS SAN not on the list", s.client(t, s.clientCA, testpki.Leaf{CommonName: "wl", DNSNames: []string{"workload.default.svc"}}), codes.PermissionDenied, false},
		{"no SAN at all", s.client(t, s.clientCA, testpki.Leaf{CommonName: envoyDNS}), codes.PermissionDenied, false},
		{"allowed SAN from another CA", s.client(t, stranger, testpki.Leaf{CommonName: "gw", URIs: []string{gatewayID}}), codes.Unavailable, true},
		{"no client certificate", clientTLS(s.serverCA, nil, nil), codes.Unavailable, true},
		{"plaintext", insecure.NewCredentials(), codes.Unavailable, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.obs.handshakeFailed.Load()
			got := call(t, s.target, c.creds)
			if got.token != (c.want == codes.OK) || status.Code(got.err) != c.want {
				t.Fatalf("token %v, error %v; want code %v", got.token, got.err, c.want)
			}
			if c.want == codes.PermissionDenied && got.health != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health did not answer a caller that completed the handshake: %v", got.health)
			}
			if c.handshake {
				<-s.obs.handshakes // counted (hang guard: the test timeout)
				if s.obs.handshakeFailed.Load() <= before {
					t.Error("the failed handshake was not counted")
				}
			}
		})
	}
	if n := s.obs.rejected.Load(); n != 4 {
		t.Errorf("%d rejections counted, want 4", n)
	}
	logs := s.logs.String()
	for _, want := range []string{`"msg":"caller rejected: not in EXTAUTHZ_ALLOWED_CALLERS"`, `"uri_sans":["spiffe://cluster.local/ns/egress/sa/workload"]`, `"msg":"TLS handshake failed"`, `"remote":"127.0.0.1:`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestRotationTakesEffectForNewConnections: rewriting the server's pair and
// the client CA bundle in place changes what new connections get, without a
// restart; a connection already open keeps working.
func TestRotationTakesEffectForNewConnections(t *testing.T) {
	s := startMTLS(t)
	gateway := testpki.Leaf{CommonName: "gw", URIs: []string{gatewayID}}
	oldClient := s.clientCA.Issue(t, gateway)
	var seen *x509.Certificate
	open := dialKeep(t, s.target, clientTLS(s.serverCA, &oldClient, &seen))
	firstLeaf := seen

	newClientCA := newCA(t, "client CA 2")
	newServer := s.serverCA.Issue(t, serverLeaf)
	dir := filepath.Dir(s.files.CertFile)
	writeFile(t, dir, "tls.crt", newServer.CertPEM)
	writeFile(t, dir, "tls.key", newServer.KeyPEM)
	writeFile(t, dir, "ca.crt", newClientCA.PEM)
	if err := s.tls.Reload(); err != nil {
		t.Fatal(err)
	}

	if got := call(t, s.target, clientTLS(s.serverCA, &oldClient, nil)); got.token || status.Code(got.err) != codes.Unavailable {
		t.Errorf("a client of the removed CA: token %v, %v", got.token, got.err)
	}
	newClient := newClientCA.Issue(t, gateway)
	var newSeen *x509.Certificate
	if got := call(t, s.target, clientTLS(s.serverCA, &newClient, &newSeen)); !got.token {
		t.Fatalf("a client of the new CA: %v", got.err)
	}
	if !newSeen.Equal(newServer.Cert) || newSeen.Equal(firstLeaf) {
		t.Error("a new connection did not get the new server certificate")
	}
	if !checkOn(t, open) {
		t.Error("the connection opened before the rotation stopped working")
	}
}

// TestRotationBySymlinkSwap: a Kubernetes volume update (..data swapped to
// a new directory) takes effect for new connections; a broken update keeps
// the last good material and counts one reload failure.
func TestRotationBySymlinkSwap(t *testing.T) {
	h := newHarness(t)
	serverCA, clientCA, clientCA2 := newCA(t, "server CA"), newCA(t, "client CA"), newCA(t, "client CA 2")
	first, second := serverCA.Issue(t, serverLeaf), serverCA.Issue(t, serverLeaf)
	vol, files := newK8sVolume(t, map[string][]byte{"tls.crt": first.CertPEM, "tls.key": first.KeyPEM, "ca.crt": clientCA.PEM})
	h.loadTLS(files)
	h.serve(listenTCP(t), gatewayID)
	gw := testpki.Leaf{CommonName: "gw", URIs: []string{gatewayID}}
	c1, c2 := clientCA.Issue(t, gw), clientCA2.Issue(t, gw)

	vol.update(map[string][]byte{"tls.crt": second.CertPEM, "tls.key": second.KeyPEM, "ca.crt": clientCA2.PEM})
	if err := h.tls.Reload(); err != nil {
		t.Fatal(err)
	}
	var seen *x509.Certificate
	if got := call(t, h.target, clientTLS(serverCA, &c2, &seen)); !got.token || !seen.Equal(second.Cert) {
		t.Fatalf("after the swap: token %v, %v", got.token, got.err)
	}
	if got := call(t, h.target, clientTLS(serverCA, &c1, nil)); got.token {
		t.Fatal("a client of the old CA still gets the credential")
	}

	vol.update(map[string][]byte{"tls.crt": []byte("not a certificate"), "tls.key": second.KeyPEM, "ca.crt": clientCA2.PEM})
	h.tls.Reload()
	h.tls.Reload()
	if n := h.obs.reloadFailed.Load(); n != 1 {
		t.Errorf("%d reload failures counted, want 1", n)
	}
	if got := call(t, h.target, clientTLS(serverCA, &c2, &seen)); !got.token || !seen.Equal(second.Cert) {
		t.Errorf("after a broken update: token %v, %v", got.token, got.err)
	}
}

// TestHandshakeFloodDoesNotStopService: garbage, plaintext gRPC and silent
// connections on the TLS listener are dropped or wait out their own
// handshake; a good client is served meanwhile.
func TestHandshakeFloodDoesNotStopService(t *testing.T) {
	s := startMTLS(t)
	addr := strings.TrimPrefix(s.target, "passthrough:///")
	const garbage, silent = 40, 20
	for i := range garbage {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		junk := make([]byte, 512)
		rand.Read(junk)
		if i%2 == 1 {
			junk = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") // a plaintext gRPC client
		}
		c.Write(junk)
	}
	for range silent {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	gw := s.clientCA.Issue(t, testpki.Leaf{CommonName: "gw", URIs: []string{gatewayID}})
	if got := call(t, s.target, clientTLS(s.serverCA, &gw, nil)); !got.token {
		t.Fatalf("a good client was not served during the flood: %v", got.err)
	}
	for range garbage {
		<-s.obs.handshakes // every garbage connection was counted (hang guard: the test timeout)
	}
	if !strings.Contains(s.logs.String(), `"msg":"TLS handshake failed"`) {
		t.Errorf("no WARN for the failed handshakes:\n%s", s.logs)
	}
}

// dialKeep opens a connection that stays open until the test ends and
// checks that it gets the credential.
func dialKeep(t *testing.T, target string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if !checkOn(t, conn) {
		t.Fatal("the first connection did not get the credential")
	}
	return conn
}

func checkOn(t *testing.T, conn *grpc.ClientConn) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	resp, err := authzClient(conn).Check(ctx, checkRequest())
	return err == nil && hasTestKey(resp)
}
