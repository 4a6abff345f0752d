package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/grpctest"
	"extauthz/internal/secret"
)

// Credentials of the two-team fixtures: team-a exchanges (WIF), team-b has
// a static key.
const (
	teamAToken = "sk-ant-oat01-authz.team.a.token.0000003"
	teamBKey   = "sk-ant-api03-authz.team.b.key.00000001"
)

func init() { testSecrets = append(testSecrets, teamAToken, teamBKey) }

// teams configures team-a (WIF, generation 3) and team-b (static key).
func teams() []NamedCredentials {
	return []NamedCredentials{
		{Name: "team-a", Mode: ModeWIF, Credentials: &fakeCreds{c: Credential{Value: secret.New(teamAToken), Generation: 3}, ok: true}},
		{Name: "team-b", Mode: ModeStaticKey, Credentials: StaticKey(secret.New(teamBKey))},
	}
}

// teamRules map namespace b to team-b, the rest of the trust domain to
// team-a, and one principal inside namespace b, exactly, to team-a. The
// shorter prefix comes first and the exact principal last, so that only
// "longest prefix wins" and "exact entries first" give the right answers.
var teamRules = []PrincipalRule{
	{Principal: "spiffe://td/ns/", Prefix: true, Credential: "team-a"}, // shorter: loses to ns/b/
	{Principal: "spiffe://td/ns/b/", Prefix: true, Credential: "team-b"},
	{Principal: "spiffe://td/ns/b/sa/special", Credential: "team-a"}, // exact: wins over ns/b/
}

// selectionRequest is the basic fixture with a credential extension (when
// ext is not "-") and a source principal.
func selectionRequest(tb testing.TB, ext, principal string) *authv3.CheckRequest {
	req := loadRequest(tb, "basic")
	if ext != "-" {
		req.Attributes.ContextExtensions = map[string]string{"virtual_host": "anthropic", CredentialExtension: ext}
	}
	if principal != "" {
		req.Attributes.Source = &authv3.AttributeContext_Peer{Principal: principal}
	}
	return req
}

// injected is the credential header value an OK response sets, or "".
func injected(resp *authv3.CheckResponse) string {
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if k := h.GetHeader().GetKey(); k == authorizationHeader || k == apiKeyHeader {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

func TestSelectionOrder(t *testing.T) {
	cases := []struct {
		name, ext, principal string
		want                 string // credential name, or "" for a 403
	}{
		{"extension", "team-b", "", "team-b"},
		{"extension wins over principal", "team-b", "spiffe://td/ns/a/sa/x", "team-b"},
		{"exact principal before a prefix", "-", "spiffe://td/ns/b/sa/special", "team-a"},
		{"empty extension counts as absent", "", "spiffe://td/ns/b/sa/special", "team-a"},
		{"longest prefix", "-", "spiffe://td/ns/b/sa/y", "team-b"},
		{"shorter prefix", "-", "spiffe://td/ns/c/sa/z", "team-a"},
		{"prefix needs the whole prefix", "-", "spiffe://td/ns", ""},
		{"no rule matches", "-", "spiffe://other/ns/a/sa/x", ""},
		{"no principal, two credentials", "-", "", ""},
		{"unknown extension", "team-c", "spiffe://td/ns/a/sa/x", ""},
		{"extension in another case", "Team-A", "", ""},
	}
	s := newTestServer(t, Options{Credentials: teams(), ByPrincipal: teamRules})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := bothPaths(t, s, selectionRequest(t, c.ext, c.principal))
			switch c.want {
			case "":
				if resp.GetStatus().GetCode() != int32(codes.PermissionDenied) || resp.GetDeniedResponse().GetStatus().GetCode() != 403 || injected(resp) != "" {
					t.Fatalf("want a 403 without a credential, got %s", masked(resp.String()))
				}
				if !strings.Contains(resp.GetDeniedResponse().GetBody(), `"permission_error"`) {
					t.Errorf("403 body is not a permission_error: %s", resp.GetDeniedResponse().GetBody())
				}
			default:
				want := map[string]string{"team-a": bearerPrefix + teamAToken, "team-b": teamBKey}[c.want]
				if injected(resp) != want {
					t.Fatalf("injected %q, want %s's credential", masked(injected(resp)), c.want)
				}
				md := resp.GetDynamicMetadata().GetFields()
				if md[MetadataCredential].GetStringValue() != c.want {
					t.Errorf("dynamic metadata names %v, want %s", md[MetadataCredential], c.want)
				}
			}
		})
	}
}

// TestOneCredentialIsTheDefault: with one credential, no rule is needed,
// but a route that names another credential is still refused.
func TestOneCredentialIsTheDefault(t *testing.T) {
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken))})
	if resp := bothPaths(t, s, selectionRequest(t, "-", "spiffe://anyone")); injected(resp) != bearerPrefix+testToken {
		t.Errorf("the only credential was not used: %s", masked(resp.String()))
	}
	if resp := bothPaths(t, s, selectionRequest(t, "default", "")); injected(resp) != bearerPrefix+testToken {
		t.Errorf("naming the only credential did not select it: %s", masked(resp.String()))
	}
	if resp := bothPaths(t, s, selectionRequest(t, "team-a", "")); resp.GetDeniedResponse().GetStatus().GetCode() != 403 {
		t.Errorf("an unknown name fell back to the only credential: %s", masked(resp.String()))
	}
}

// TestUnknownCredentialLogsOneErrorPerSecond: an Envoy route naming a
// credential extauthz lacks is a configuration error worth an ERROR, but a
// flood of such requests writes one line a second.
func TestUnknownCredentialLogsOneErrorPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		s := newTestServer(t, Options{Credentials: teams(), Logger: testLogger(&buf)})
		req := selectionRequest(t, "team-"+strings.Repeat("z", 100), "")
		for range 1000 {
			s.Check(context.Background(), req)
		}
		time.Sleep(2 * time.Second)
		s.Check(context.Background(), req)
		lines := buf.lines(t)
		if len(lines) != 2 {
			t.Fatalf("%d log lines for 1001 denials over 2 s, want 2: %v", len(lines), lines)
		}
		for _, l := range lines {
			name, _ := l["credential"].(string)
			if l["level"] != "ERROR" || !strings.HasPrefix(name, "team-zzz") || len(name) > maxNameInBody+len("…") {
				t.Errorf("want a bounded ERROR naming the credential, got %v", l)
			}
		}
		if lines[1]["suppressed"] != float64(999) {
			t.Errorf("second line does not count the 999 held back: %v", lines[1])
		}
	})
}

func TestNewServerRejectsBadCredentials(t *testing.T) {
	ok := StaticKey(secret.New(testKey))
	for name, o := range map[string]Options{
		"none":            {},
		"bad name":        {Credentials: []NamedCredentials{{Name: "Team_A", Mode: ModeStaticKey, Credentials: ok}}},
		"duplicate":       {Credentials: []NamedCredentials{{Name: "a", Mode: ModeStaticKey, Credentials: ok}, {Name: "a", Mode: ModeStaticKey, Credentials: ok}}},
		"no source":       {Credentials: []NamedCredentials{{Name: "a", Mode: ModeStaticKey}}},
		"rule to unknown": {Credentials: []NamedCredentials{{Name: "a", Mode: ModeStaticKey, Credentials: ok}}, ByPrincipal: []PrincipalRule{{Principal: "p", Credential: "b"}}},
	} {
		if _, err := NewServer(o); err == nil {
			t.Errorf("%s: NewServer accepted it", name)
		}
	}
}

// TestMetadataFollowsTheGeneration: the dynamic metadata names the
// generation the response injects, on both paths, and changes with it.
func TestMetadataFollowsTheGeneration(t *testing.T) {
	creds := &fakeCreds{c: Credential{Value: secret.New(testToken), Generation: 1}, ok: true}
	s := newTestServer(t, Options{Credentials: []NamedCredentials{{Name: "team-a", Mode: ModeWIF, Credentials: creds}}})
	for _, gen := range []uint64{1, 2, 41} {
		creds.c = Credential{Value: secret.New(fmt.Sprintf("%s.%d", testToken, gen)), Generation: gen}
		for _, req := range []string{"basic", "client_beta"} {
			resp := bothPaths(t, s, loadRequest(t, req))
			md := resp.GetDynamicMetadata().GetFields()
			if len(md) != 2 || md[MetadataCredential].GetStringValue() != "team-a" || md[MetadataGeneration].GetNumberValue() != float64(gen) {
				t.Errorf("generation %d, %s: metadata %v", gen, req, resp.GetDynamicMetadata())
			}
		}
	}
	// Denials carry none: only a request that carried a token can report it.
	creds.ok = false
	if resp := bothPaths(t, s, loadRequest(t, "basic")); resp.GetDynamicMetadata() != nil {
		t.Errorf("a 503 carries dynamic metadata: %v", resp.GetDynamicMetadata())
	}
}

// TestAuthorizeRefusesTheCaller: a caller that Authorize refuses gets its
// error and no answer on both paths, over real gRPC.
func TestAuthorizeRefusesTheCaller(t *testing.T) {
	refused := status.Error(codes.PermissionDenied, "caller not allowed")
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)),
		Authorize: func(context.Context) error { return refused }})
	fast := grpc.NewServer(grpc.ForceServerCodecV2(NewCodec()))
	s.Register(fast)
	standard := grpc.NewServer()
	authv3.RegisterAuthorizationServer(standard, s)
	for name, g := range map[string]*grpc.Server{"fast": fast, "standard": standard} {
		resp, err := authv3.NewAuthorizationClient(grpctest.Serve(t, g)).Check(context.Background(), loadRequest(t, "basic"))
		if status.Code(err) != codes.PermissionDenied || resp != nil {
			t.Errorf("%s: got %v, %v; want PERMISSION_DENIED and no response", name, resp, err)
		}
	}
}

// manyCredentials is n static-key credentials c00…; the last one is the
// one the benchmark's requests select.
func manyCredentials(n int) []NamedCredentials {
	out := make([]NamedCredentials, n)
	for i := range out {
		out[i] = NamedCredentials{Name: fmt.Sprintf("c%02d", i), Mode: ModeWIF, Credentials: servable(testToken)}
	}
	return out
}

// TestSelectionAllocatesNothing: choosing among 16 credentials by
// context_extensions or by principal costs no allocation on the fast path.
func TestSelectionAllocatesNothing(t *testing.T) {
	rules := []PrincipalRule{{Principal: "spiffe://td/ns/", Prefix: true, Credential: "c15"}}
	s := newTestServer(t, Options{Credentials: manyCredentials(16), ByPrincipal: rules, Logger: quietLogger()})
	for _, req := range []*authv3.CheckRequest{selectionRequest(t, "c15", ""), selectionRequest(t, "-", "spiffe://td/ns/x/sa/y")} {
		in, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		codec := NewCodec()
		r := new(wireRequest)
		buf := mem.BufferSlice{mem.SliceBuffer(in)}
		run := func() {
			if err := codec.Unmarshal(buf, r); err != nil {
				t.Fatal(err)
			}
			if _, ok := s.checkWire(context.Background(), r).(*encodedResponse); !ok {
				t.Fatal("not an OK answer")
			}
			r.release()
		}
		run() // builds the answer of the generation
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Errorf("%.1f allocations per Check selecting among 16 credentials", n)
		}
	}
}

// BenchmarkSelection compares the fast path with one credential and with
// 16 selected through context_extensions (issue 10: within 10 %).
func BenchmarkSelection(b *testing.B) {
	single := newTestServer(b, Options{Credentials: single(ModeWIF, servable(testToken)), Logger: quietLogger()})
	many := newTestServer(b, Options{Credentials: manyCredentials(16), Logger: quietLogger()})
	plain, err := proto.Marshal(selectionRequest(b, "-", ""))
	if err != nil {
		b.Fatal(err)
	}
	selecting, err := proto.Marshal(selectionRequest(b, "c15", ""))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		s    *Server
		in   []byte
	}{{"one", single, plain}, {"16_by_extension", many, selecting}} {
		b.Run(c.name, func(b *testing.B) {
			codec, r := NewCodec(), new(wireRequest)
			in := mem.BufferSlice{mem.SliceBuffer(c.in)}
			b.ReportAllocs()
			for b.Loop() {
				if err := codec.Unmarshal(in, r); err != nil {
					b.Fatal(err)
				}
				out, err := codec.Marshal(c.s.checkWire(context.Background(), r))
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
				r.release()
			}
		})
	}
}
