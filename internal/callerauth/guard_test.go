package callerauth

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

func peerContext(ai credentials.AuthInfo) context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}, AuthInfo: ai})
}

func testGuard(t *testing.T) (*Guard, *logText, *countingObserver) {
	t.Helper()
	logger, logs := testLogger()
	obs := newObserver()
	g, err := NewGuard(Options{Logger: logger, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return g, logs, obs
}

// TestAuthorizeAllocatesNothing: Authorize runs on Check's allocation-free
// fast path; for an allowed caller it is a context lookup and a field read.
func TestAuthorizeAllocatesNothing(t *testing.T) {
	g, _, _ := testGuard(t)
	ctx := peerContext(&AuthInfo{allowed: true, Caller: Caller{Peer: &PeerCred{UID: 101}}})
	if err := g.Authorize(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = g.Authorize(ctx) }); n != 0 {
		t.Errorf("Authorize allocates %v times per call", n)
	}
}

func BenchmarkAuthorize(b *testing.B) {
	g, err := NewGuard(Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := peerContext(&AuthInfo{allowed: true})
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Authorize(ctx)
	}
}

// TestAuthorizeRejects: a caller not on the list, a connection not made
// through the guard's credentials, and a context without a peer are all
// refused with PERMISSION_DENIED, counted each time and logged at most once
// a second with the number held back.
func TestAuthorizeRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, logs, obs := testGuard(t)
		stranger := peerContext(&AuthInfo{Caller: Caller{Peer: &PeerCred{UID: 65534, GID: 65534, PID: 77}}})
		for range 5 {
			err := g.Authorize(stranger)
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("got %v, want PERMISSION_DENIED", err)
			}
		}
		if n := logs.count(`"level":"WARN"`); n != 1 {
			t.Fatalf("%d WARN lines for a burst, want 1:\n%s", n, logs)
		}
		if !strings.Contains(logs.String(), `"uid":65534,"gid":65534,"pid":77`) {
			t.Errorf("the WARN does not name the peer:\n%s", logs)
		}
		time.Sleep(time.Second)
		for _, ctx := range []context.Context{
			peerContext(insecureInfo()),
			context.Background(),
		} {
			if status.Code(g.Authorize(ctx)) != codes.PermissionDenied {
				t.Error("a connection without the guard's AuthInfo was not refused")
			}
		}
		if n := obs.rejected.Load(); n != 7 {
			t.Errorf("%d rejections counted, want 7", n)
		}
		if !strings.Contains(logs.String(), `"suppressed":4`) || !strings.Contains(logs.String(), "not accepted through callerauth") {
			t.Errorf("the next WARN does not count the held-back lines or give the reason:\n%s", logs)
		}
	})
}

func insecureInfo() credentials.AuthInfo {
	_, ai, _ := insecure.NewCredentials().ServerHandshake(nil)
	return ai
}

func TestNewGuardRefusesSANEntriesWithoutClientCA(t *testing.T) {
	list, err := ParseAllowList([]string{"spiffe://td/envoy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewGuard(Options{AllowList: list}); !errors.Is(err, ErrSANsNeedClientCA) {
		t.Errorf("plaintext: %v", err)
	}
	ca := newCA(t, "ca")
	s, err := LoadServerTLS(pemFiles(t, ca.Issue(t, serverLeaf)), TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewGuard(Options{AllowList: list, TLS: s}); !errors.Is(err, ErrSANsNeedClientCA) {
		t.Errorf("TLS without a client CA: %v", err)
	}
}
