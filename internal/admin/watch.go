package admin

import (
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// Changes carries "credential NAME changed" from the refreshers to the
// WatchCredentials streams. Each stream has a set of changed names and a
// one-slot signal; Notify adds the name to every set and signals without
// waiting, and each stream re-reads those credentials' current state when it
// gets to it. So Notify never blocks, and a burst of changes reaches a slow
// watcher as one message per credential with the latest state.
//
// Create it before the refreshers (their observers call Notify, see
// Observer) and pass it to NewServer in Options.Changes. The zero value is
// ready to use.
type Changes struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
}

// subscription is one watcher's view of Changes.
type subscription struct {
	signal  chan struct{}   // one slot: something is pending
	pending map[string]bool // names changed since the last take; guarded by Changes.mu
}

// Notify records that the named credential's status changed. It takes a
// short lock, never waits on a watcher, and may be called from any
// goroutine.
func (c *Changes) Notify(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		s.pending[name] = true
		select {
		case s.signal <- struct{}{}:
		default: // already signalled; the watcher will see name too
		}
	}
}

// Observer is a tokens.Observer that calls Notify(name) on every status
// change of the credential name's refresher.
func (c *Changes) Observer(name string) tokens.Observer { return changeObserver{c: c, name: name} }

type changeObserver struct {
	c    *Changes
	name string
}

// ExchangeFinished implements tokens.Observer; the status change that
// follows every attempt is what counts.
func (changeObserver) ExchangeFinished(tokens.Outcome, time.Duration) {}

// StatusChanged implements tokens.Observer.
func (o changeObserver) StatusChanged(tokens.Status) { o.c.Notify(o.name) }

// subscribe adds a watcher unless max are subscribed.
func (c *Changes) subscribe(max int) (*subscription, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subs) >= max {
		return nil, false
	}
	if c.subs == nil {
		c.subs = make(map[*subscription]struct{})
	}
	s := &subscription{signal: make(chan struct{}, 1), pending: make(map[string]bool)}
	c.subs[s] = struct{}{}
	return s, true
}

func (c *Changes) unsubscribe(s *subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.subs, s)
}

// take returns the names changed since the last take and clears them.
func (c *Changes) take(s *subscription) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := s.pending
	s.pending = make(map[string]bool, len(names))
	return names
}

// WatchCredentials sends every credential's state in configured order, then
// each credential whose state changed, until the caller hangs up or Close.
// A message is sent only when it differs from the last one sent for that
// credential. Past MaxWatchers concurrent streams it fails with
// RESOURCE_EXHAUSTED.
func (s *Server) WatchCredentials(_ *adminv1.WatchCredentialsRequest, stream grpc.ServerStreamingServer[adminv1.Credential]) error {
	select {
	case <-s.closed:
		return errShuttingDown
	default:
	}
	// Subscribe before the first read, so that no change falls between them.
	sub, ok := s.changes.subscribe(s.maxWatchers)
	if !ok {
		return status.Errorf(codes.ResourceExhausted, "too many watchers: at most %d at once", s.maxWatchers)
	}
	defer s.changes.unsubscribe(sub)

	sent := make([]*adminv1.Credential, len(s.creds))
	send := func(i int) error {
		m := render(s.creds[i])
		if proto.Equal(m, sent[i]) {
			return nil
		}
		sent[i] = m
		return stream.Send(m)
	}
	for i := range s.creds {
		if err := send(i); err != nil {
			return err
		}
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.closed:
			return errShuttingDown
		case <-sub.signal:
		}
		changed := s.changes.take(sub)
		for i, c := range s.creds {
			if !changed[c.Name()] {
				continue
			}
			if err := send(i); err != nil {
				return err
			}
		}
	}
}

// errShuttingDown ends the watches at Close.
var errShuttingDown = status.Error(codes.Unavailable, "the admin server is shutting down")
