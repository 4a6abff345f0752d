package admin

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// fakeStream is a WatchCredentials stream whose Send waits until the test
// receives: a watcher exactly as slow as the test reads.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	sent chan *adminv1.Credential
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) Send(m *adminv1.Credential) error {
	select {
	case f.sent <- record(m):
		return nil
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
}

// watch starts WatchCredentials on s; stop cancels it and returns its error.
func watch(t *testing.T, s *Server) (stream *fakeStream, stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	stream = &fakeStream{ctx: ctx, sent: make(chan *adminv1.Credential)}
	done := make(chan error, 1)
	go func() { done <- s.WatchCredentials(&adminv1.WatchCredentialsRequest{}, stream) }()
	return stream, func() error { cancel(); return <-done }
}

// next receives the next message, or nil if the watcher has none to send now.
func (f *fakeStream) next() *adminv1.Credential {
	synctest.Wait()
	select {
	case m := <-f.sent:
		return m
	default:
		return nil
	}
}

func TestWatchSendsEveryStateThenEachChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		a := &fakeCredential{name: "team-a", info: wifInfo("svac_a")}
		b := &fakeCredential{name: "team-b", info: wifInfo("svac_b")}
		a.set(fresh(token(testToken, now, 10*time.Minute, 1), now.Add(5*time.Minute)))
		s := newServer(t, Options{}, a, b)
		stream, stop := watch(t, s)

		if m := stream.next(); m.GetName() != "team-a" || m.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_FRESH {
			t.Fatalf("first message %v, want team-a fresh", m)
		}
		if m := stream.next(); m.GetName() != "team-b" || m.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN {
			t.Fatalf("second message %v, want team-b without a token", m)
		}
		if m := stream.next(); m != nil {
			t.Fatalf("unexpected message %v", m)
		}

		b.set(fresh(token(testToken2, now, 10*time.Minute, 1), now.Add(5*time.Minute)))
		s.Notify("team-b")
		if m := stream.next(); m.GetName() != "team-b" || m.GetGeneration() != 1 {
			t.Fatalf("after team-b changed: %v", m)
		}
		s.Notify("team-a")  // nothing visible changed: nothing sent
		s.Notify("team-zz") // not a credential: ignored
		if m := stream.next(); m != nil {
			t.Fatalf("message without a change: %v", m)
		}
		if err := stop(); status.Code(err) != codes.Canceled {
			t.Errorf("watch ended with %v, want CANCELED", err)
		}
	})
}

// TestSlowWatcherNeverBlocksNotify: with a watcher that reads nothing, a
// thousand changes are notified without waiting (synctest would report the
// deadlock), and the watcher then gets the latest state once, not each one.
func TestSlowWatcherNeverBlocksNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		a := &fakeCredential{name: "team-a", info: wifInfo("svac_a")}
		s := newServer(t, Options{}, a)
		stream, stop := watch(t, s)
		synctest.Wait() // the watcher is stuck sending the first state

		for gen := uint64(1); gen <= 1000; gen++ {
			a.set(fresh(token(testToken, now, 10*time.Minute, gen), now.Add(5*time.Minute)))
			s.Notify("team-a")
		}
		if m := stream.next(); m.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN {
			t.Fatalf("first message %v, want the state at subscription", m)
		}
		if m := stream.next(); m.GetGeneration() != 1000 {
			t.Fatalf("second message %v, want the latest (generation 1000)", m)
		}
		if m := stream.next(); m != nil {
			t.Fatalf("a third message %v: changes were not coalesced", m)
		}
		stop()
	})
}

func TestWatchersAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, Options{MaxWatchers: 2}, &fakeCredential{name: "default", info: wifInfo("svac_d")})
		first, stop1 := watch(t, s)
		_, stop2 := watch(t, s)
		first.next()
		_, stop3 := watch(t, s)
		if err := stop3(); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("third watcher: %v, want RESOURCE_EXHAUSTED", err)
		}
		stop1()
		again, stop4 := watch(t, s)
		if m := again.next(); m.GetName() != "default" {
			t.Fatalf("a watcher after one left got %v", m)
		}
		stop2()
		stop4()
	})
}

func TestCloseEndsWatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, Options{}, &fakeCredential{name: "default", info: wifInfo("svac_d")})
		stream, stop := watch(t, s)
		stream.next()
		s.Close()
		s.Close()       // idempotent
		synctest.Wait() // the watcher has ended on its own
		if err := stop(); status.Code(err) != codes.Unavailable {
			t.Fatalf("watch after Close ended with %v, want UNAVAILABLE", err)
		}
		_, stop = watch(t, s)
		if err := stop(); status.Code(err) != codes.Unavailable {
			t.Fatalf("a watch after Close: %v, want UNAVAILABLE", err)
		}
	})
}

// TestChangesObserver: a refresher's observer from Changes notifies the
// watchers of every status change, and a Server may share the Changes.
func TestChangesObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		changes := new(Changes)
		ex := &scriptedExchanger{}
		r, err := tokens.NewRefresher(tokens.RefresherOptions{Name: "default", Source: jwtSource{}, Exchanger: ex,
			Logger: testLogger(), Observer: changes.Observer("default")})
		if err != nil {
			t.Fatal(err)
		}
		s := newServer(t, Options{Changes: changes}, FromRefresher("default", wifInfo("svac_d"), r))
		stream, stop := watch(t, s)
		if m := stream.next(); m.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN {
			t.Fatalf("before Run: %v", m)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		m := stream.next()
		if m.GetState() == adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN { // Run's first publication
			m = stream.next()
		}
		if m.GetState() != adminv1.CredentialState_CREDENTIAL_STATE_FRESH || m.GetGeneration() != 1 {
			t.Fatalf("after the first exchange: %v", m)
		}
		cancel()
		<-done
		stop()
	})
}

func TestNewServerRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no credentials": {},
		"nil credential": {Credentials: []Credential{nil}},
		"no name":        {Credentials: []Credential{&fakeCredential{}}},
		"duplicate":      {Credentials: []Credential{&fakeCredential{name: "a"}, &fakeCredential{name: "a"}}},
		"negative bound": {Credentials: []Credential{&fakeCredential{name: "a"}}, MaxWatchers: -1},
	} {
		if _, err := NewServer(o); err == nil {
			t.Errorf("%s: NewServer accepted it", name)
		}
	}
}
