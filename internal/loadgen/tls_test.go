package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"extauthz/internal/testpki"
)

const (
	testServerName = "authz.loadgen.test"
	testCallerSAN  = "envoy.loadgen.test"
)

// testPKI is a CA, a server certificate for testServerName and a client
// certificate whose DNS SAN is testCallerSAN.
type testPKI struct {
	ca             *testpki.CA
	server, client tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	ca := testpki.NewCA(t, "loadgen test CA")
	return testPKI{ca: ca,
		server: ca.Issue(t, testpki.Leaf{CommonName: testServerName, DNSNames: []string{testServerName}}).TLSCertificate(t),
		client: ca.Issue(t, testpki.Leaf{CommonName: testCallerSAN, DNSNames: []string{testCallerSAN}}).TLSCertificate(t)}
}

// serverConfig requires and verifies client certificates, as extauthz with
// EXTAUTHZ_TLS_CLIENT_CA_FILE does.
func (p testPKI) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}
}

// clientConfig trusts the CA and presents the client certificate.
func (p testPKI) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.ca.Pool(), ServerName: testServerName, Certificates: []tls.Certificate{p.client}}
}

// allowCaller refuses every call whose client certificate lacks
// testCallerSAN, as EXTAUTHZ_ALLOWED_CALLERS=dns:… does.
func allowCaller(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	p, ok := peer.FromContext(ss.Context())
	if !ok {
		return status.Error(codes.PermissionDenied, "no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || !slices.Contains(info.State.VerifiedChains[0][0].DNSNames, testCallerSAN) {
		return status.Error(codes.PermissionDenied, "caller not allowed")
	}
	return handler(srv, ss)
}

// startTLSServer is startServer with mutual TLS and the caller check.
func startTLSServer(t *testing.T, p testPKI) string {
	t.Helper()
	return startServer(t, grpc.Creds(credentials.NewTLS(p.serverConfig())), grpc.StreamInterceptor(allowCaller))
}

// Run gives each connection its own copy of the configuration, with h2 for
// ALPN: the caller's stays as it was.
func TestRunLeavesTheTLSConfigAlone(t *testing.T) {
	p := newTestPKI(t)
	addr := startTLSServer(t, p)
	cfg := p.clientConfig()
	if _, err := Run(context.Background(), Options{Addr: addr, Method: echoMethod, Request: testRequest, TLS: cfg, InFlight: 1, Duration: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if cfg.NextProtos != nil {
		t.Errorf("Run set NextProtos %q on the caller's tls.Config", cfg.NextProtos)
	}
}

// A server the client cannot trust, or one that cannot trust the client,
// gets no load: the run fails, or every response does.
func TestRunOverTLSWithoutTrust(t *testing.T) {
	p := newTestPKI(t)
	addr := startTLSServer(t, p)
	run := func(cfg *tls.Config) (Result, error) {
		return Run(context.Background(), Options{Addr: addr, Method: echoMethod, Request: testRequest, Check: checkOK,
			TLS: cfg, InFlight: 4, Duration: 100 * time.Millisecond, Drain: 10 * time.Millisecond})
	}

	other := newTestPKI(t)
	wrongRoots := p.clientConfig()
	wrongRoots.RootCAs = other.ca.Pool()
	var unknownAuthority x509.UnknownAuthorityError
	if _, err := run(wrongRoots); !errors.As(err, &unknownAuthority) {
		t.Errorf("server certificate from an unknown CA: %v, want x509.UnknownAuthorityError", err)
	}
	wrongName := p.clientConfig()
	wrongName.ServerName = "elsewhere.test"
	var hostname x509.HostnameError
	if _, err := run(wrongName); !errors.As(err, &hostname) {
		t.Errorf("server certificate for another name: %v, want x509.HostnameError", err)
	}

	// TLS 1.3 tells the client of a refused certificate only after its
	// side of the handshake: the run fails on the first read (the alert)
	// or write (the server has gone).
	noCert := p.clientConfig()
	noCert.Certificates = nil
	if res, err := run(noCert); err == nil || res.Requests != 0 {
		t.Errorf("no client certificate: %d good responses, error %v; want none and an error", res.Requests, err)
	}
	otherCA := p.clientConfig()
	otherCA.Certificates = []tls.Certificate{other.client}
	if res, err := run(otherCA); err == nil || res.Requests != 0 {
		t.Errorf("client certificate from another CA: %d good responses, error %v; want none and an error", res.Requests, err)
	}

	// Verified, but not a caller the server allows: the connection works
	// and every response is a gRPC error.
	stranger := p.clientConfig()
	stranger.Certificates = []tls.Certificate{p.ca.Issue(t, testpki.Leaf{CommonName: "x", DNSNames: []string{"stranger.test"}}).TLSCertificate(t)}
	res, err := run(stranger)
	if se := new(statusError); err != nil || res.Requests != 0 || res.Errors == 0 || !errors.As(res.FirstError, se) || se.code != int(codes.PermissionDenied) {
		t.Errorf("a caller not allowed: %d good, %d failed (%v), error %v; want only PERMISSION_DENIED", res.Requests, res.Errors, res.FirstError, err)
	}
}

// A TLS server that does not select h2 by ALPN does not speak gRPC: the
// client says so instead of sending frames into it.
func TestRunOverTLSNeedsALPNh2(t *testing.T) {
	p := newTestPKI(t)
	cfg := p.serverConfig()
	cfg.ClientAuth = tls.NoClientCert // and no NextProtos: the server selects nothing
	addr := serveLoopback(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		defer tc.Close()
		if tc.Handshake() == nil {
			io.Copy(io.Discard, tc)
		}
	})
	_, err := Run(context.Background(), Options{Addr: addr, Method: echoMethod, TLS: p.clientConfig(), InFlight: 1, Duration: time.Second})
	if !errors.Is(err, errProtocol) || !strings.Contains(err.Error(), "ALPN") {
		t.Errorf("Run against a server without ALPN: %v, want a protocol error naming ALPN", err)
	}
}

// The raw client allocates nothing per request, in cleartext and over TLS
// once the handshake is done. The server here is a minimal HTTP/2 peer that
// allocates nothing per request either (a grpc-go server allocates
// kilobytes per call), so the process's allocations are the client's and
// crypto/tls's on both ends. crypto/tls allocates one small reader
// whenever it reads from the socket (Conn.readFromUntil): that is per batch
// of records, and the only allocation allowed beyond a few others'.
func TestNoAllocationPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race, sync.Pool drops buffers at random and crypto/tls allocates again")
	}
	p := newTestPKI(t)
	for _, withTLS := range []bool{false, true} {
		name := "cleartext"
		if withTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			var serverTLS, clientTLSConfig *tls.Config
			if withTLS {
				serverTLS, clientTLSConfig = p.serverConfig(), p.clientConfig()
				serverTLS.NextProtos = []string{"h2"}
			}
			var reads atomic.Int64 // from the socket, at both ends
			addr := startFakeH2Server(t, serverTLS, &reads)

			const warmup, measured = 2_000, 20_000
			var n atomic.Int64
			warm, done := make(chan struct{}), make(chan struct{})
			check := func(msg []byte) error {
				switch n.Add(1) {
				case warmup:
					close(warm)
				case warmup + measured:
					close(done)
				}
				return checkOK(msg)
			}
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			run := &runState{base: time.Now()}
			run.recording.Store(true)
			c, err := openH2(context.Background(), countingConn{raw, &reads}, target{addr: addr, method: echoMethod, request: testRequest,
				check: check, tls: clientTLS(clientTLSConfig, addr)}, run, 4, true)
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- c.readLoop() }()
			h2Driver{c}.start(4)
			var before, after runtime.MemStats
			var reads0 int64
			for _, wait := range []chan struct{}{warm, done} {
				select {
				case <-wait:
				case err := <-served:
					t.Fatalf("the connection ended: %v", err)
				}
				if wait == warm {
					runtime.ReadMemStats(&before)
					reads0 = reads.Load()
				}
			}
			runtime.ReadMemStats(&after)
			socketReads := reads.Load() - reads0
			run.stopping.Store(true)
			c.close()
			<-served
			if c.rec.bad != 0 {
				t.Fatalf("%d failed responses, first: %v", c.rec.bad, c.rec.firstErr)
			}
			// One allocation per request would be 20,000: allow a hundredth
			// of that for the runtime and for goroutines that earlier tests
			// left winding down.
			allowed := uint64(measured / 100)
			if withTLS {
				allowed += uint64(socketReads)
			}
			allocs := after.Mallocs - before.Mallocs
			t.Logf("%d allocations, %d socket reads at both ends, over %d requests", allocs, socketReads, measured)
			if allocs > allowed {
				t.Errorf("%d allocations over %d requests (%d socket reads at both ends); want at most %d", allocs, measured, socketReads, allowed)
			}
		})
	}
}

// countingConn counts the reads from a connection.
type countingConn struct {
	net.Conn
	reads *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(b)
}

// startFakeH2Server serves HTTP/2 on loopback (over TLS when cfg is set)
// and answers every request with the same pre-encoded good gRPC response,
// allocating nothing per request. It counts its reads from the socket in
// reads.
func startFakeH2Server(t *testing.T, cfg *tls.Config, reads *atomic.Int64) string {
	t.Helper()
	return serveLoopback(t, func(raw net.Conn) {
		var c net.Conn = countingConn{raw, reads}
		if cfg != nil {
			c = tls.Server(c, cfg)
		}
		serveFakeH2(c)
	})
}

// serveLoopback listens on a loopback port until the test ends and runs
// handle on each connection in a goroutine of its own.
func serveLoopback(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// serveFakeH2 answers each request of one connection when its DATA frame
// ends the stream: response HEADERS, a DATA frame with testResponse,
// trailers with grpc-status 0 (added to the HPACK table the first time and
// referred to after, as grpc-go does), and a WINDOW_UPDATE returning the
// request's bytes to the connection's window.
func serveFakeH2(conn net.Conn) {
	defer conn.Close()
	response := func(trailers []byte) ([]byte, []int) {
		var b []byte
		var streamFrames []int
		add := func(typ frameType, flags uint8, payload []byte) {
			streamFrames = append(streamFrames, len(b))
			b = appendFrame(b, typ, flags, 1, payload)
		}
		add(frameHeaders, flagEndHeaders, []byte{0x88}) // :status 200, static table
		add(frameData, 0, grpcFrame(testResponse))
		add(frameHeaders, flagEndHeaders|flagEndStream, trailers)
		b = appendFrame(b, frameWindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, uint32(5+len(testRequest))))
		return b, streamFrames
	}
	first, firstAt := response(append([]byte{0x40, 11}, append([]byte("grpc-status"), 1, '0')...))
	steady, steadyAt := response([]byte{0x80 | 62}) // the first dynamic table entry
	br := bufio.NewReaderSize(conn, 64<<10)
	preface := make([]byte, len(clientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || string(preface) != clientPreface {
		return
	}
	if _, err := conn.Write(appendFrame(nil, frameSettings, 0, 0, nil)); err != nil {
		return
	}
	var fh [frameHeaderLen]byte
	payload := make([]byte, maxFrameSize)
	resp, at := first, firstAt
	for {
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			return
		}
		h := parseFrameHeader(fh[:])
		if h.length > maxFrameSize {
			return
		}
		if _, err := io.ReadFull(br, payload[:h.length]); err != nil {
			return
		}
		if h.typ != frameData || h.flags&flagEndStream == 0 {
			continue
		}
		for _, off := range at {
			setStreamID(resp[off:], h.streamID)
		}
		if _, err := conn.Write(resp); err != nil {
			return
		}
		resp, at = steady, steadyAt
	}
}
