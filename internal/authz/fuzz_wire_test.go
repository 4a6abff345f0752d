package authz

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// FuzzFastPath holds the fast path to the full decode, differentially:
//   - the fuzz input as raw wire bytes;
//   - CheckRequests generated from the input as structured values and
//     marshalled with proto, alone and concatenated (proto merges them);
//
// and for each: the codec refuses exactly what proto.Unmarshal refuses; the
// view the scan extracts equals what Check reads of the decoded message; and
// the fast path's response bytes, unmarshalled, equal the typed path's
// response, for servers of both modes, with and without a host list, and
// without a credential.
func FuzzFastPath(f *testing.F) {
	addFixtureSeeds(f)
	for _, b := range [][]byte{badUTF8InUnreadField, truncatedHeader, strayEndGroup, fieldZero, unknownGroup, attributesAsVarint} {
		f.Add(b)
	}
	f.Add([]byte("\x07\x03:authority\x00anthropic-beta\x01a,b\x02\x05c\x1a"))
	servers := fuzzServers(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		differ(t, servers, data, false)
		g := generator{data}
		first, second := g.request(), g.request()
		a, err := proto.Marshal(first)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(second)
		if err != nil {
			t.Fatal(err)
		}
		differ(t, servers, a, fits(first))
		differ(t, servers, append(a, b...), fits(first, second))
	})
}

// differ runs in through both paths of every server and fails on any
// difference. mustScan says in is well-formed and within the view's
// capacity, so the fast path must not have fallen back to a full decode.
func differ(t *testing.T, servers []*Server, in []byte, mustScan bool) {
	t.Helper()
	req := new(authv3.CheckRequest)
	protoErr := proto.Unmarshal(in, req)
	r := new(wireRequest)
	defer r.release()
	codecErr := NewCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(in)}, r)
	if (codecErr == nil) != (protoErr == nil) {
		t.Fatalf("codec error %v, proto.Unmarshal error %v", codecErr, protoErr)
	}
	if protoErr != nil {
		return
	}
	if mustScan && r.full != nil {
		t.Fatalf("a well-formed request within the view's capacity fell back to a full decode:\n%s", masked(protojson.Format(req)))
	}
	if r.full == nil {
		if got, want := scannedView(r), typedView(req); !got.equal(want) {
			t.Fatalf("scanned view differs from the decoded request\ngot:  %s\nwant: %s", masked(stringify(got)), masked(stringify(want)))
		}
	}
	for i, s := range servers {
		w := checkWireBytes(t, s, in)
		typed, _ := checkTypedBytes(t, s, in)
		got, want := new(authv3.CheckResponse), new(authv3.CheckResponse)
		if err := proto.Unmarshal(w.resp, got); err != nil {
			t.Fatalf("server %d: fast path response does not decode: %v", i, err)
		}
		if err := proto.Unmarshal(typed, want); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("server %d: fast path response differs\ngot:\n%s\nwant:\n%s", i, masked(protojson.Format(got)), masked(protojson.Format(want)))
		}
		for _, p := range responseProblems(got) {
			t.Errorf("server %d: %s", i, p)
		}
	}
}

func stringify(v readView) string {
	return strings.Join([]string{"http=" + map[bool]string{true: "yes", false: "no"}[v.http], "id=" + v.id, "host=" + v.host,
		"authority=" + v.authority, "betas=" + v.betas, "principal=" + v.principal}, " ")
}

// fits reports whether the concatenation of reqs is within what a wireView
// holds, so that its scan must not fall back (nothing generated is nested
// deeply). On the wire, proto's merge of repeated fields and maps is the sum
// of the entries.
func fits(reqs ...*authv3.CheckRequest) bool {
	betas, extensions := 0, 0
	for _, req := range reqs {
		for _, h := range req.GetAttributes().GetRequest().GetHttp().GetHeaderMap().GetHeaders() {
			if strings.EqualFold(h.GetKey(), betaHeader) {
				betas++
			}
		}
		extensions += len(req.GetAttributes().GetContextExtensions())
	}
	return betas <= maxMapBetas && extensions <= maxExtensions
}

// generator builds CheckRequests from fuzz bytes: each choice consumes a
// byte (0 when they run out), so the fuzzer steers the structure.
type generator struct{ b []byte }

func (g *generator) next() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

// bytes is up to 31 raw bytes.
func (g *generator) bytes() []byte {
	n := min(int(g.next()%32), len(g.b))
	out := g.b[:n:n]
	g.b = g.b[n:]
	return out
}

// text is a string proto can marshal: a header name, host or beta flag
// the checks care about, or fuzz bytes made valid UTF-8.
func (g *generator) text() string {
	words := []string{"", ":authority", "anthropic-beta", "Anthropic-BETA", "x-api-key", "api.anthropic.com",
		"API.Anthropic.com.:443", "[::1]:8443", "::1", "evil.example", oauthBeta, federationBeta, "a, b ,,c", " \t",
		CredentialExtension, "team-a", "team-b", "default", "spiffe://td/ns/a/sa/x", "spiffe://td/ns/b/",
		// Authorities outside the grammar of hosts.go (issue 7).
		"api.anthropic.com:443@evil.com", "[api.anthropic.com]:443", "api.anthropic.com:", "[::1]x", "0177.0.0.1"}
	if c := g.next(); c&1 == 0 { // half of the time
		return words[int(c>>1)%len(words)]
	}
	return strings.ToValidUTF8(string(g.bytes()), "\uFFFD")
}

// key is a header name: three times in four one that Check reads, or one
// that differs from it only in case (Check folds anthropic-beta in
// header_map, and nothing else).
func (g *generator) key() string {
	keys := []string{":authority", "anthropic-beta", "Anthropic-Beta", ":Authority"}
	if c := g.next(); c&3 != 3 {
		return keys[int(c>>2)%len(keys)]
	}
	return g.text()
}

// request generates a CheckRequest. Most have HTTP attributes, so that
// concatenations merge the fields Check reads.
func (g *generator) request() *authv3.CheckRequest {
	req := new(authv3.CheckRequest)
	shape := g.next()
	if shape&0x03 == 0 {
		return req // one in four: no attributes
	}
	req.Attributes = new(authv3.AttributeContext)
	if shape&0x04 != 0 {
		req.Attributes.Source = &authv3.AttributeContext_Peer{Principal: g.text(), Labels: map[string]string{g.text(): g.text()}}
	}
	for range g.next() % 6 {
		if req.Attributes.ContextExtensions == nil {
			req.Attributes.ContextExtensions = map[string]string{}
		}
		req.Attributes.ContextExtensions[g.text()] = g.text()
	}
	if shape&0x08 != 0 {
		return req // no request attributes
	}
	req.Attributes.Request = new(authv3.AttributeContext_Request)
	if shape&0x10 != 0 {
		return req // no HTTP attributes
	}
	http := &authv3.AttributeContext_HttpRequest{Id: g.text(), Host: g.text(), Path: g.text()}
	req.Attributes.Request.Http = http
	for range g.next() % 6 {
		if http.Headers == nil {
			http.Headers = map[string]string{}
		}
		http.Headers[g.key()] = g.text()
	}
	if shape&0x20 == 0 {
		http.HeaderMap = new(corev3.HeaderMap)
		for range g.next() % 12 {
			h := &corev3.HeaderValue{Key: g.key()}
			switch g.next() % 3 {
			case 0:
				h.Value = g.text()
			case 1:
				h.RawValue = g.bytes()
			default:
				h.Value, h.RawValue = g.text(), g.bytes()
			}
			http.HeaderMap.Headers = append(http.HeaderMap.Headers, h)
		}
	}
	return req
}
