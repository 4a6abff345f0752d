package callerauth

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc/credentials"

	"extauthz/internal/testpki"
)

// handshake runs the guard's server handshake on one end of a loopback
// connection on network, and client (if not nil) on the other.
func handshake(t *testing.T, g *Guard, network string, client func(net.Conn)) (*AuthInfo, error) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	lis, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := net.Dial(network, lis.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		if client != nil {
			client(c)
		}
	}()
	raw, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn, info, err := g.TransportCredentials().ServerHandshake(raw)
	if conn != nil {
		defer conn.Close()
	}
	if client == nil {
		raw.Close()
	}
	<-done
	if err != nil {
		return nil, err
	}
	return info.(*AuthInfo), nil
}

func TestAuthInfoPlaintext(t *testing.T) {
	g, _, _ := testGuard(t)
	ai, err := handshake(t, g, "tcp", func(net.Conn) {})
	if err != nil {
		t.Fatal(err)
	}
	if ai.AuthType() != "insecure" || ai.SecurityLevel != credentials.NoSecurity || ai.Caller.TLS || ai.Caller.Peer != nil || !ai.Allowed() {
		t.Errorf("TCP plaintext: %q %v %+v", ai.AuthType(), ai.SecurityLevel, ai.Caller)
	}
	if !strings.HasPrefix(ai.Caller.Remote, "127.0.0.1:") || ai.GetSecurityValue() != nil {
		t.Errorf("remote %q, security value %v", ai.Caller.Remote, ai.GetSecurityValue())
	}

	ai, err = handshake(t, g, "unix", func(net.Conn) {})
	if err != nil {
		t.Fatal(err)
	}
	if ai.SecurityLevel != credentials.PrivacyAndIntegrity {
		t.Errorf("unix socket: security level %v", ai.SecurityLevel)
	}
	if runtime.GOOS == "linux" {
		if p := ai.Caller.Peer; p == nil || p.UID != uint32(os.Getuid()) || p.GID != uint32(os.Getgid()) || p.PID != int32(os.Getpid()) {
			t.Errorf("unix socket peer %+v, want this process", p)
		}
	}
}

func TestAuthInfoOverTLS(t *testing.T) {
	serverCA, clientCA := newCA(t, "server CA"), newCA(t, "client CA")
	s, err := LoadServerTLS(pemFiles(t, serverCA.Issue(t, serverLeaf), clientCA), TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := ParseAllowList([]string{gatewayID})
	logger, _ := testLogger()
	g, err := NewGuard(Options{AllowList: list, TLS: s, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cert := clientCA.Issue(t, testpki.Leaf{CommonName: "gw", URIs: []string{gatewayID}, DNSNames: []string{envoyDNS}})
	pair := cert.TLSCertificate(t)
	ai, err := handshake(t, g, "tcp", func(c net.Conn) {
		tc := tls.Client(c, &tls.Config{ServerName: serverName, RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{pair}, NextProtos: []string{"h2"}})
		tc.Handshake()
	})
	if err != nil {
		t.Fatal(err)
	}
	if ai.AuthType() != "tls" || ai.SecurityLevel != credentials.PrivacyAndIntegrity || !ai.Caller.TLS {
		t.Errorf("%q %v", ai.AuthType(), ai.SecurityLevel)
	}
	if ai.SPIFFEID == nil || ai.SPIFFEID.String() != gatewayID || ai.State.NegotiatedProtocol != "h2" {
		t.Errorf("grpc's TLSInfo is not carried: SPIFFE ID %v, ALPN %q", ai.SPIFFEID, ai.State.NegotiatedProtocol)
	}
	if len(ai.Caller.URIs) != 1 || ai.Caller.URIs[0] != gatewayID || len(ai.Caller.DNSNames) != 1 || !ai.Allowed() {
		t.Errorf("caller %+v allowed %v", ai.Caller, ai.Allowed())
	}
	if _, ok := ai.GetSecurityValue().(*credentials.TLSChannelzSecurityValue); !ok {
		t.Errorf("channelz security value %T", ai.GetSecurityValue())
	}
}

// TestProbeIsNotAHandshakeFailure: a TCP probe that connects and closes is
// not a failed TLS handshake: nothing is counted, nothing is said above
// DEBUG.
func TestProbeIsNotAHandshakeFailure(t *testing.T) {
	ca := newCA(t, "ca")
	s, err := LoadServerTLS(pemFiles(t, ca.Issue(t, serverLeaf)), TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := testLogger()
	obs := newObserver()
	g, err := NewGuard(Options{TLS: s, Logger: logger, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, g, "tcp", nil); err == nil {
		t.Fatal("a closed connection completed the handshake")
	}
	if obs.handshakeFailed.Load() != 0 || logs.count(`"level":"WARN"`) != 0 || logs.count("closed before the TLS handshake") != 1 {
		t.Errorf("a probe was reported as a failure (%d):\n%s", obs.handshakeFailed.Load(), logs)
	}
}
