package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/secret"
)

// largeRequest is the basic fixture with the headers a real Envoy adds
// (tracing, cookies, forwarding): about 1.5 KB and 27 headers.
func largeRequest(tb testing.TB) *authv3.CheckRequest {
	req := loadRequest(tb, "basic")
	h := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	for i := range 20 {
		h[fmt.Sprintf("x-extra-header-%02d", i)] = strings.Repeat("v", 40+i)
	}
	h["cookie"] = strings.Repeat("c", 200)
	return req
}

// benchRequests are the requests the path benchmarks send, marshalled.
func benchRequests(b *testing.B) map[string][]byte {
	out := map[string][]byte{}
	for name, req := range map[string]*authv3.CheckRequest{
		"basic":       loadRequest(b, "basic"),
		"client_beta": loadRequest(b, "client_beta"),
		"host_port":   loadRequest(b, "host_port"),
		"large":       largeRequest(b),
	} {
		in, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		out[name] = in
	}
	return out
}

// BenchmarkCheckPath measures one Check from request bytes to response
// bytes, on the typed path (grpc's proto codec and Check, what the server
// ran before the fast path) and on the fast path (Codec and checkWire).
func BenchmarkCheckPath(b *testing.B) {
	requests := benchRequests(b)
	cases := []struct {
		name, request string
		o             Options
	}{
		{"wif", "basic", Options{Credentials: single(ModeWIF, servable(testToken))}},
		{"wif_large", "large", Options{Credentials: single(ModeWIF, servable(testToken))}},
		{"wif_client_beta", "client_beta", Options{Credentials: single(ModeWIF, servable(testToken))}},
		{"wif_allowed_hosts", "host_port", Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly}},
		{"static_key", "basic", Options{Credentials: single(ModeStaticKey, StaticKey(secret.New(testKey)))}},
	}
	codec := NewCodec()
	ctx := context.Background()
	for _, c := range cases {
		c.o.Logger = quietLogger()
		s := newTestServer(b, c.o)
		in := mem.BufferSlice{mem.SliceBuffer(requests[c.request])}
		b.Run("typed/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := new(authv3.CheckRequest)
				if err := codec.Unmarshal(in, req); err != nil {
					b.Fatal(err)
				}
				resp, _ := s.Check(ctx, req)
				out, err := codec.Marshal(resp)
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
		b.Run("wire/"+c.name, func(b *testing.B) {
			r := new(wireRequest)
			b.ReportAllocs()
			for b.Loop() {
				if err := codec.Unmarshal(in, r); err != nil {
					b.Fatal(err)
				}
				out, err := codec.Marshal(s.checkWire(ctx, r))
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
				r.release()
			}
		})
	}
}

// BenchmarkCodecUnmarshal compares grpc's proto codec decoding a
// CheckRequest with the fast path's scan.
func BenchmarkCodecUnmarshal(b *testing.B) {
	codec := NewCodec()
	for name, msg := range benchRequests(b) {
		in := mem.BufferSlice{mem.SliceBuffer(msg)}
		b.Run("proto/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := codec.Unmarshal(in, new(authv3.CheckRequest)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("wire/"+name, func(b *testing.B) {
			r := new(wireRequest)
			b.ReportAllocs()
			for b.Loop() {
				if err := codec.Unmarshal(in, r); err != nil {
					b.Fatal(err)
				}
				r.release()
			}
		})
	}
}

// BenchmarkCodecMarshal compares grpc's proto codec encoding the WIF OK
// response with handing out the pre-encoded bytes.
func BenchmarkCodecMarshal(b *testing.B) {
	codec := NewCodec()
	b.Run("proto", func(b *testing.B) {
		resp := allowResponse(ModeWIF, testToken, oauthBeta, testMetadata)
		b.ReportAllocs()
		for b.Loop() {
			out, err := codec.Marshal(resp)
			if err != nil {
				b.Fatal(err)
			}
			out.Free()
		}
	})
	b.Run("encoded", func(b *testing.B) {
		e := (&okAnswer{mode: ModeWIF, credential: testToken, metadata: testMetadata}).encode(oauthBeta)
		b.ReportAllocs()
		for b.Loop() {
			out, err := codec.Marshal(e)
			if err != nil {
				b.Fatal(err)
			}
			out.Free()
		}
	})
}

// BenchmarkEncodedAllow measures the fast path's response builder: the
// answer of the current generation and its bytes for the request's betas.
func BenchmarkEncodedAllow(b *testing.B) {
	requests := benchRequests(b)
	for _, name := range []string{"basic", "client_beta"} {
		b.Run(name, func(b *testing.B) {
			s := newTestServer(b, Options{Credentials: single(ModeWIF, servable(testToken)), Logger: quietLogger()})
			r := new(wireRequest)
			if err := NewCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(requests[name])}, r); err != nil {
				b.Fatal(err)
			}
			cred, _, _ := s.only().source.Credential(time.Now())
			b.ReportAllocs()
			for b.Loop() {
				encodedAllow(s.only().answerFor(cred), r)
			}
		})
	}
}
