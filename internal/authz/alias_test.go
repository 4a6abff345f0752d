package authz

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"
)

// recordKeeper is a slog.Handler that keeps every record, as an async or
// buffering handler would, and renders it once at Handle time. A record
// holding a string of the request bytes renders differently later, once
// the bytes are reused.
type recordKeeper struct {
	mu       sync.Mutex
	records  []slog.Record
	atHandle []string
}

func (*recordKeeper) Enabled(context.Context, slog.Level) bool { return true }

func (k *recordKeeper) Handle(_ context.Context, r slog.Record) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.records = append(k.records, r.Clone())
	k.atHandle = append(k.atHandle, render(r))
	return nil
}

func (k *recordKeeper) WithAttrs([]slog.Attr) slog.Handler { return k }
func (k *recordKeeper) WithGroup(string) slog.Handler      { return k }

// render is the message and attributes of r; secrets render as their
// LogValue (a fingerprint).
func render(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.Resolve().String())
		return true
	})
	return b.String()
}

// TestFastPathKeepsNoRequestBytes: the fast path's strings alias grpc's
// receive buffer, which is reused once the handler returns. Log records,
// responses and the cached beta variants must not keep any of them:
// checkWireBytes overwrites the request bytes after the release, and every
// record and cached variant must read afterwards as it did when it was made.
func TestFastPathKeepsNoRequestBytes(t *testing.T) {
	keeper := new(recordKeeper)
	logger := slog.New(keeper) // DEBUG included: the allowed line logs request_id
	servers := []*Server{
		newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly, Logger: logger}),
		newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), Logger: logger}),
		newTestServer(t, Options{Credentials: single(ModeStaticKey, servable(testKey)), AllowedHosts: anthropicOnly, Logger: logger}),
	}
	for _, name := range requestNames(t) {
		in, err := proto.Marshal(loadRequest(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			if w := checkWireBytes(t, s, in); w.unmarshalErr != nil || w.fellBack {
				t.Fatalf("%s: the fast path did not scan the fixture (err %v)", name, w.unmarshalErr)
			}
		}
	}

	if len(keeper.records) == 0 {
		t.Fatal("no log records: the test checks nothing")
	}
	var sawHost, sawID bool
	for i, r := range keeper.records {
		if later := render(r); later != keeper.atHandle[i] {
			t.Errorf("a log record changed with the request bytes:\nat Handle: %s\nlater:     %s", keeper.atHandle[i], later)
		}
		r.Attrs(func(a slog.Attr) bool {
			sawHost = sawHost || a.Key == "host" && a.Value.String() != ""
			sawID = sawID || a.Key == "request_id" && a.Value.String() != ""
			return true
		})
	}
	if !sawHost || !sawID {
		t.Errorf("the records hold no request host (%v) or request id (%v): the test checks nothing", sawHost, sawID)
	}

	a := servers[1].only().answer.Load()
	variants := a.variants.Load()
	if variants == nil {
		t.Fatal("no beta variant was cached: the test checks nothing")
	}
	for _, e := range *variants {
		resp := new(authv3.CheckResponse)
		if err := proto.Unmarshal(e.data.Materialize(), resp); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(resp, allowResponse(ModeWIF, a.credential, e.beta, a.metadata)) {
			t.Errorf("a cached variant's key %q no longer matches the bytes it sends", e.beta)
		}
	}
}
