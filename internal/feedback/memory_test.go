package feedback

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/proto"
)

// TestStreamStateHoldsNoReferences: the whole per-stream state is the
// stream type, and it can hold no memory of what the stream carried — no
// pointer, string, slice, map or interface field — so a stream open for
// days costs what it cost at its start.
func TestStreamStateHoldsNoReferences(t *testing.T) {
	typ := reflect.TypeFor[stream]()
	for i := range typ.NumField() {
		switch f := typ.Field(i); f.Type.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint64:
		default:
			t.Errorf("stream.%s is a %s: per-stream state must hold no references", f.Name, f.Type)
		}
	}
}

// TestUnknownNamesLeaveNoTrace: names that are not configured credentials
// create no per-credential state; a configured one creates one throttle.
func TestUnknownNamesLeaveNoTrace(t *testing.T) {
	s := newTestServer(t, newFakeCredentials("team-a"), nil, nil)
	st := &stream{}
	s.message(t.Context(), st, httpMessage(identifier()))
	for i := range 10_000 {
		s.message(t.Context(), st, httpMessage(nil, stampedEntry(fmt.Sprintf("name-%d", i), 1, 401, viaUpstream)))
	}
	s.message(t.Context(), st, httpMessage(nil, stampedEntry("team-a", 1, 401, viaUpstream), stampedEntry("team-a", 1, 401, viaUpstream)))
	if m := s.credLogs.byName.Load(); m == nil || len(*m) != 1 {
		t.Errorf("per-credential state for %v, want team-a only", m)
	}
}

// TestLongStreamHeapStaysFlat streams 200,000 entries, each decoded afresh as
// grpc would, through one stream and checks that the live heap after them is
// what it was after the first 20,000: the server keeps none of them. Kept
// entries would cost hundreds of megabytes.
func TestLongStreamHeapStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 200,000 entries")
	}
	const perMessage, messages, warmup = 1000, 200, 20
	e := stampedEntry("team-a", 1, 401, viaUpstream)
	e.Request = nil // decoding headers would only slow the test
	wire, err := proto.Marshal(httpMessage(nil, repeat(e, perMessage)...))
	if err != nil {
		t.Fatal(err)
	}
	obs := newCountingObserver()
	s := newTestServer(t, newFakeCredentials("team-a"), obs, nil)
	ms := newMemStream(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.StreamAccessLogs(ms) }()
	ms.in <- httpMessage(identifier())

	var baseline uint64
	for i := range messages {
		m := &accesslogv3.StreamAccessLogsMessage{}
		if err := proto.Unmarshal(wire, m); err != nil {
			t.Fatal(err)
		}
		ms.in <- m
		if i == warmup {
			baseline = liveHeap(ms)
		}
	}
	grown := int64(liveHeap(ms)) - int64(baseline)
	close(ms.in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := obs.total(); got != perMessage*messages {
		t.Fatalf("counted %d entries, want %d", got, perMessage*messages)
	}
	t.Logf("live heap grew %d bytes over %d entries", grown, perMessage*(messages-warmup))
	if grown > 4<<20 {
		t.Errorf("live heap grew %d bytes over %d entries: the stream keeps what it reads", grown, perMessage*(messages-warmup))
	}
}

// liveHeap waits until the stream has handled every message sent so far (an
// empty message is taken only once the one before is done), then returns
// the heap left after a collection.
func liveHeap(ms *memStream) uint64 {
	ms.in <- &accesslogv3.StreamAccessLogsMessage{}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
