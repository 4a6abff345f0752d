package authz

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Codec is the gRPC codec of the fast Check path (install it with
// grpc.ForceServerCodecV2(authz.NewCodec()) on the server Register uses). It
// knows the fast path's two message types: *wireRequest, which it scans
// instead of decoding, and *encodedResponse, whose bytes it hands out as they
// are. Every other message — grpc.health.v1, reflection, a typed
// CheckRequest or CheckResponse (denials, the fallback) — goes to grpc's
// standard proto codec unchanged.
type Codec struct {
	standard encoding.CodecV2
}

var _ encoding.CodecV2 = (*Codec)(nil)

// NewCodec returns the codec, falling back to grpc's registered proto codec.
func NewCodec() *Codec {
	return &Codec{standard: encoding.GetCodecV2(grpcproto.Name)}
}

// Name is "proto": on the wire the messages are the standard protobuf ones.
func (c *Codec) Name() string { return grpcproto.Name }

// Marshal implements encoding.CodecV2. A typed CheckResponse is encoded
// deterministically, like the pre-encoded ones, so that both paths send the
// same bytes for the same answer (the dynamic metadata is a map).
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *encodedResponse:
		return m.data, nil
	case *authv3.CheckResponse:
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.standard.Marshal(v)
}

// Unmarshal implements encoding.CodecV2. A *wireRequest keeps a reference to
// data until its release.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*wireRequest); ok {
		return r.unmarshal(data)
	}
	return c.standard.Unmarshal(data, v)
}
