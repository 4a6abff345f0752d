package authz

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// wireResult is one request through the fast path, as grpc would run it:
// the codec's Unmarshal into a wireRequest, checkWire, the codec's Marshal.
type wireResult struct {
	unmarshalErr error  // what grpc would turn into codes.Internal
	fellBack     bool   // the scan was unsure and the request was decoded in full
	resp         []byte // the response bytes sent
}

// checkWireBytes runs in through the fast path of s in grpc's order: the
// handler returns and releases the request before its response is
// marshalled. The request bytes are a copy that is overwritten on release,
// as grpc reuses its receive buffer, so a response (or a log record, or a
// cached answer) that kept a string of the request would show it.
func checkWireBytes(tb testing.TB, s *Server, in []byte) wireResult {
	tb.Helper()
	received := bytes.Clone(in)
	codec := NewCodec()
	r := new(wireRequest)
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(received)}, r); err != nil {
		r.release()
		return wireResult{unmarshalErr: err}
	}
	fellBack := r.full != nil
	resp := s.checkWire(context.Background(), r)
	r.release()
	reuse(received)
	out, err := codec.Marshal(resp)
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return wireResult{fellBack: fellBack, resp: out.Materialize()}
}

// reuse overwrites b as the next message grpc receives into it would.
func reuse(b []byte) {
	for i := range b {
		b[i] = '#'
	}
}

// checkTypedBytes runs in through the standard path of s: proto decode,
// Check, proto encode.
func checkTypedBytes(tb testing.TB, s *Server, in []byte) (resp []byte, unmarshalErr error) {
	tb.Helper()
	req := new(authv3.CheckRequest)
	if err := proto.Unmarshal(in, req); err != nil {
		return nil, err
	}
	got, err := s.Check(context.Background(), req)
	if err != nil {
		tb.Fatalf("Check: %v", err)
	}
	out, err := NewCodec().Marshal(got)
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return out.Materialize(), nil
}

// TestCheckGoldenWire sends every golden case through the fast path, bytes
// in and bytes out, and holds the answer to the golden response and to the
// typed path's bytes.
func TestCheckGoldenWire(t *testing.T) {
	for _, c := range checkCases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t, Options{Credentials: single(c.mode, c.creds), AllowedHosts: c.hosts})
			in, err := proto.Marshal(loadRequest(t, c.request))
			if err != nil {
				t.Fatal(err)
			}
			w := checkWireBytes(t, s, in)
			if w.unmarshalErr != nil || w.fellBack {
				t.Fatalf("fast path refused a fixture: err %v, fell back %v", w.unmarshalErr, w.fellBack)
			}
			got := new(authv3.CheckResponse)
			if err := proto.Unmarshal(w.resp, got); err != nil {
				t.Fatal(err)
			}
			want := readGolden(t, filepath.Join("testdata", "golden", c.name+".json"))
			if !proto.Equal(got, want) {
				t.Errorf("fast path response differs from the golden one\ngot:\n%s\nwant:\n%s",
					masked(protojson.Format(got)), masked(protojson.Format(want)))
			}
			typed, _ := checkTypedBytes(t, s, in)
			if !bytes.Equal(w.resp, typed) {
				t.Error("fast path bytes differ from the typed path's")
			}
		})
	}
}
