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

// checkWireBytes runs in through the fast path of s.
func checkWireBytes(tb testing.TB, s *Server, in []byte) wireResult {
	tb.Helper()
	codec := NewCodec()
	r := new(wireRequest)
	defer r.release()
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(in)}, r); err != nil {
		return wireResult{unmarshalErr: err}
	}
	out, err := codec.Marshal(s.checkWire(context.Background(), r))
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return wireResult{fellBack: r.full != nil, resp: out.Materialize()}
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
			s := newTestServer(t, Options{Mode: c.mode, Credentials: c.creds, AllowedHosts: c.hosts})
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
