package authz

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/grpctest"
	"extauthz/internal/secret"
)

// TestRegisterOverGRPC runs the same requests against a server registered
// the standard way and one registered with Register and the Codec, over real
// gRPC: every answer — responses, and the status of malformed requests —
// must be the same, and the standard services (health) must keep working
// through the codec's fallback.
func TestRegisterOverGRPC(t *testing.T) {
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly})
	standard := grpc.NewServer()
	authv3.RegisterAuthorizationServer(standard, s)
	fast := grpc.NewServer(grpc.ForceServerCodecV2(NewCodec()))
	s.Register(fast)
	hs := health.NewServer()
	hs.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(fast, hs)
	conns := map[string]*grpc.ClientConn{"standard": grpctest.Serve(t, standard), "fast": grpctest.Serve(t, fast)}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range requestNames(t) {
		in, err := proto.Marshal(loadRequest(t, name))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := checkTypedBytes(t, s, in)
		for path, conn := range conns {
			var got []byte
			if err := conn.Invoke(ctx, checkMethod, &in, &got, grpc.ForceCodecV2(grpctest.RawCodec{})); err != nil {
				t.Fatalf("%s %s: %v", path, name, err)
			}
			// grpc's own codec marshals the metadata map in any order:
			// compare messages; the fast codec's bytes must be Check's.
			g, w := new(authv3.CheckResponse), new(authv3.CheckResponse)
			if err := proto.Unmarshal(got, g); err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(want, w); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(g, w) || path == "fast" && string(got) != string(want) {
				t.Errorf("%s %s: response differs from Check's", path, name)
			}
		}
	}
	for _, in := range [][]byte{badUTF8InUnreadField, truncatedHeader, strayEndGroup, fieldZero} {
		var statuses []*status.Status
		for _, conn := range []*grpc.ClientConn{conns["standard"], conns["fast"]} {
			var out []byte
			err := conn.Invoke(ctx, checkMethod, &in, &out, grpc.ForceCodecV2(grpctest.RawCodec{}))
			statuses = append(statuses, status.Convert(err))
		}
		if statuses[0].Code() != statuses[1].Code() || statuses[0].Message() != statuses[1].Message() || statuses[0].Code() == 0 {
			t.Errorf("malformed request %q: standard answers %v, fast %v", in, statuses[0], statuses[1])
		}
	}
	resp, err := healthpb.NewHealthClient(conns["fast"]).Check(ctx, &healthpb.HealthCheckRequest{Service: ServiceName})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health through the codec's fallback: %v, %v", resp, err)
	}
}

// TestRegisterGivesInterceptorsTypedMessages: an interceptor sees the
// generated request and response types, as with the standard registration.
func TestRegisterGivesInterceptorsTypedMessages(t *testing.T) {
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken))})
	var seen atomic.Value
	g := grpc.NewServer(grpc.ForceServerCodecV2(NewCodec()), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			resp, err := h(ctx, req)
			seen.Store(fmt.Sprintf("%s %T %T", info.FullMethod, req, resp))
			return resp, err
		}))
	s.Register(g)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := loadRequest(t, "client_beta")
	got, err := authv3.NewAuthorizationClient(grpctest.Serve(t, g)).Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.Check(ctx, req)
	if !proto.Equal(got, want) {
		t.Error("response through the interceptor differs from Check's")
	}
	if got, want := seen.Load(), "/envoy.service.auth.v3.Authorization/Check *authv3.CheckRequest *authv3.CheckResponse"; got != want {
		t.Errorf("interceptor saw %v, want %s", got, want)
	}
}

// rotatingCreds serves generation n with token tokenOf(n); the test
// advances it while Checks run.
type rotatingCreds struct{ gen atomic.Uint64 }

const rotatingPrefix = "sk-ant-oat01-authz-test-rotating-"

func tokenOf(gen uint64) string { return rotatingPrefix + strconv.FormatUint(gen, 10) }

func (r *rotatingCreds) Credential(time.Time) (Credential, time.Duration, bool) {
	g := r.gen.Load()
	return Credential{Value: secret.New(tokenOf(g)), Generation: g}, 0, true
}

// servedGeneration is the generation of the token in resp's bearer header.
func servedGeneration(resp *authv3.CheckResponse) (uint64, bool) {
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == authorizationHeader {
			tok, ok := strings.CutPrefix(h.GetHeader().GetValue(), bearerPrefix+rotatingPrefix)
			gen, err := strconv.ParseUint(tok, 10, 64)
			return gen, ok && err == nil
		}
	}
	return 0, false
}

// TestGenerationSwitchNeverServesStaleBytes switches the credential
// generation while readers run Checks on the fast path (reader 0 advances it
// before each of its Checks): every response must carry a token at least as
// new as the generation current when its Check started, and no newer than
// the one current when it ended. Run with -race.
func TestGenerationSwitchNeverServesStaleBytes(t *testing.T) {
	creds := new(rotatingCreds)
	creds.gen.Store(1)
	s := newTestServer(t, Options{Credentials: single(ModeWIF, creds), Logger: quietLogger()})
	var inputs []mem.BufferSlice
	for _, name := range []string{"basic", "client_beta", "header_map_raw"} {
		in, err := proto.Marshal(loadRequest(t, name))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, mem.BufferSlice{mem.SliceBuffer(in)})
	}
	const readers, checksEach = 4, 300
	var wrong atomic.Int64
	var firstWrong atomic.Value
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			codec := NewCodec()
			r := new(wireRequest)
			for n := range checksEach {
				if i == 0 {
					creds.gen.Add(1)
				}
				before := creds.gen.Load()
				if err := codec.Unmarshal(inputs[(i+n)%len(inputs)], r); err != nil {
					firstWrong.CompareAndSwap(nil, err.Error())
					wrong.Add(1)
					return
				}
				out, err := codec.Marshal(s.checkWire(context.Background(), r))
				r.release()
				after := creds.gen.Load()
				resp := new(authv3.CheckResponse)
				if err == nil {
					err = proto.Unmarshal(out.Materialize(), resp)
				}
				gen, ok := servedGeneration(resp)
				if err != nil || !ok || gen < before || gen > after {
					wrong.Add(1)
					firstWrong.CompareAndSwap(nil, fmt.Sprintf("generation %d (%v) served while %d..%d were current", gen, err, before, after))
				}
			}
		})
	}
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		t.Fatalf("%d of %d Checks served another generation's bytes; first: %v", n, readers*checksEach, firstWrong.Load())
	}
}

// TestFastPathAllocatesNothing: the response builder on the common request
// (no client beta), and the whole fast path — scan, decision, response
// bytes — allocate nothing per request. It holds under -race too: the
// measured calls use no sync.Pool.
func TestFastPathAllocatesNothing(t *testing.T) {
	codec := NewCodec()
	scan := func(name string) *wireRequest {
		in, err := proto.Marshal(loadRequest(t, name))
		if err != nil {
			t.Fatal(err)
		}
		r := new(wireRequest)
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(in)}, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	wif := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), Logger: quietLogger()})
	cred, _, _ := wif.only().source.Credential(time.Now())
	basic := scan("basic")
	if n := testing.AllocsPerRun(100, func() { encodedAllow(wif.only().answerFor(cred), basic) }); n != 0 {
		t.Errorf("the response builder allocates %v times on the common request, want 0", n)
	}

	cases := []struct {
		name, request string
		o             Options
	}{
		{"wif", "basic", Options{Credentials: single(ModeWIF, servable(testToken))}},
		{"wif client beta (cached variant)", "client_beta", Options{Credentials: single(ModeWIF, servable(testToken))}},
		{"wif header_map", "header_map_raw", Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly}},
		{"static key, allowed host", "host_port", Options{Credentials: single(ModeStaticKey, StaticKey(secret.New(testKey))), AllowedHosts: anthropicOnly}},
		{"wif, allowed IPv6 host", "ipv6_bracketed", Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: []string{"::1"}}},
	}
	for _, c := range cases {
		c.o.Logger = quietLogger()
		s := newTestServer(t, c.o)
		in, err := proto.Marshal(loadRequest(t, c.request))
		if err != nil {
			t.Fatal(err)
		}
		data := mem.BufferSlice{mem.SliceBuffer(in)}
		r := new(wireRequest)
		ctx := context.Background()
		n := testing.AllocsPerRun(100, func() {
			if err := codec.Unmarshal(data, r); err != nil {
				t.Fatal(err)
			}
			out, err := codec.Marshal(s.checkWire(ctx, r))
			if err != nil {
				t.Fatal(err)
			}
			out.Free()
			r.release()
		})
		if n != 0 {
			t.Errorf("%s: the fast path allocates %v times per Check, want 0", c.name, n)
		}
	}
}

// TestBetaVariantsAreBounded: each client beta value is encoded once per
// generation and reused; past maxBetaVariants the oldest are dropped, values
// longer than maxCachedBeta are not kept, and every answer stays right.
func TestBetaVariantsAreBounded(t *testing.T) {
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken))})
	cred, _, _ := s.only().source.Credential(time.Now())
	a := s.only().answerFor(cred)
	if a.withBeta([]byte(oauthBeta)) != a.plain {
		t.Error("the plain beta value is not the plain answer")
	}
	first := a.withBeta([]byte("one," + oauthBeta))
	if again := a.withBeta([]byte("one," + oauthBeta)); again != first {
		t.Error("a repeated beta value was encoded again")
	}
	for i := range 2 * maxBetaVariants {
		beta := fmt.Sprintf("b%d,%s", i, oauthBeta)
		e := a.withBeta([]byte(beta))
		resp := new(authv3.CheckResponse)
		if err := proto.Unmarshal(e.data.Materialize(), resp); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(resp, allowResponse(ModeWIF, testToken, beta, testMetadata)) {
			t.Errorf("variant %q encodes another response", beta)
		}
	}
	if n := len(*a.variants.Load()); n != maxBetaVariants {
		t.Errorf("%d variants cached, want %d", n, maxBetaVariants)
	}

	// A value longer than maxCachedBeta is answered right but not kept: the
	// cache's size cannot follow what clients send.
	before := a.variants.Load()
	long := strings.Repeat("x", maxCachedBeta) + "," + oauthBeta
	e := a.withBeta([]byte(long))
	resp := new(authv3.CheckResponse)
	if err := proto.Unmarshal(e.data.Materialize(), resp); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(resp, allowResponse(ModeWIF, testToken, long, testMetadata)) {
		t.Error("a long beta value encodes another response")
	}
	if a.variants.Load() != before {
		t.Errorf("a %d-byte beta value was cached", len(long))
	}
}
