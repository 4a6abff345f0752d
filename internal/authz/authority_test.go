package authz

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/grpctest"
	"extauthz/internal/secret"
)

// authorityHosts is the allow-list of the authority tests: every host the
// invalid authorities below try to pass for.
var authorityHosts = []string{"api.anthropic.com", "::1", "fe80::1", "127.0.0.1"}

// invalidAuthorities are outside the grammar of hosts.go: each must be
// denied although a lax reading finds a host of authorityHosts in it.
var invalidAuthorities = []struct{ authority, why string }{
	// Issue 7: the port was cut at the first ':' or after ']' whatever
	// followed.
	{"api.anthropic.com:x.evil.com", "a port that is a host"},
	{"api.anthropic.com:443@evil.com", "userinfo before evil.com"},
	{"[api.anthropic.com]x.evil.com", "a name in brackets, then more"},
	{"[api.anthropic.com].evil.com", "a name in brackets, then a domain"},
	{"api.anthropic.com:443/evil", "a path"},
	{"api.anthropic.com:443 evil", "a space and more after the port"},
	{"api.anthropic.com: 443", "a space before the port"},
	{"api.anthropic.com:-1", "a negative port"},
	{"[api.anthropic.com]:443", "a name in brackets"},
	{"[API.ANTHROPIC.COM]@evil.com", "a bracketed name as userinfo"},
	// Userinfo, path, query, fragment, scheme, wildcard.
	{"user@api.anthropic.com", "userinfo"},
	{"user:sk-ant-secret@api.anthropic.com", "userinfo with a password"},
	{"api.anthropic.com@evil.com", "api.anthropic.com as userinfo"},
	{"api.anthropic.com/", "a path"},
	{"api.anthropic.com?x", "a query"},
	{"api.anthropic.com#x", "a fragment"},
	{"api.anthropic.com\\evil.com", "a backslash"},
	{"http://api.anthropic.com", "a scheme"},
	{"*.anthropic.com", "a wildcard"},
	// Ports.
	{"api.anthropic.com:", "an empty port"},
	{"api.anthropic.com:0", "port 0"},
	{"api.anthropic.com:00443", "a port with leading zeros"},
	{"api.anthropic.com:065535", "six digits"},
	{"api.anthropic.com:65536", "a port above 65535"},
	{"api.anthropic.com:99999", "a port above 65535"},
	{"api.anthropic.com:+443", "a signed port"},
	{"api.anthropic.com:443:443", "two ports"},
	{"api.anthropic.com:0x1bb", "a hex port"},
	{"api.anthropic.com:４４３", "full-width digits"},
	// Whitespace, control characters, percent-encoding.
	{" api.anthropic.com", "leading space"},
	{"api.anthropic.com ", "trailing space"},
	{"api.anthropic.com\t", "a tab"},
	{"api.anthropic.com\r\nx-evil: 1", "CR LF"},
	{"api.anthropic.com\x00.evil.com", "NUL"},
	{"api.anthropic.com:443\x00", "NUL after the port"},
	{"api.anthropic.com%00.evil.com", "percent-encoded NUL"},
	{"api%2eanthropic.com", "a percent-encoded dot"},
	{"api.anthropic.com%2f", "a percent-encoded slash"},
	{"api.anthropic.com\x7f", "DEL"},
	// Unicode look-alikes: IDNs travel as punycode.
	{"api.anthropic.c\u043em", "Cyrillic o"},
	{"\uff41pi.anthropic.com", "a full-width a"},
	{"api.anthropic.com\u3002", "an ideographic full stop"},
	{"api\u2024anthropic.com", "a one-dot leader"},
	{"api.anthropic.com\u200b", "a zero-width space"},
	// Dots and labels.
	{"api.anthropic.com..", "two trailing dots"},
	{"api..anthropic.com", "an empty label"},
	{".api.anthropic.com", "a leading dot"},
	{".", "only a dot"},
	{"..", "two dots"},
	{"api.anthropic.com.:", "a trailing dot and an empty port"},
	{longLabel(64) + ".example", "a 64-byte label"},
	{longName(254), "a 254-byte name"},
	// IPv6.
	{"::1", "bare IPv6"},
	{"::1:443", "bare IPv6, or a port?"},
	{"0:0:0:0:0:0:0:1", "bare IPv6"},
	{"fe80::1", "bare IPv6"},
	{"[::1", "an unclosed bracket"},
	{"::1]", "a closing bracket only"},
	{"[::1]]", "two closing brackets"},
	{"[[::1]]", "two opening brackets"},
	{"[::1]:", "an empty port"},
	{"[::1]x", "text after the bracket"},
	{"[::1]:443]", "a bracket after the port"},
	{"[]", "empty brackets"},
	{"[fe80::1%25eth0]", "a zone (RFC 6874)"},
	{"[fe80::1%eth0]", "a zone"},
	{"[::1 ]", "a space in the brackets"},
	{"[v1.fe80::1]", "IPvFuture"},
	{"[127.0.0.1]", "IPv4 in brackets"},
	{"[::ffff:0177.0.0.1]", "IPv4-mapped with an octal-looking part"},
	// IPv4 in other notations, which resolvers and URL parsers read as
	// 127.0.0.1.
	{"0177.0.0.1", "octal"},
	{"127.000.000.001", "leading zeros"},
	{"127.0.0.01", "a leading zero"},
	{"127.1", "two parts"},
	{"127.0.1", "three parts"},
	{"0x7f.0.0.1", "hex"},
	{"0x7f000001", "one hex number"},
	{"2130706433", "one decimal number"},
	{"127.0.0.1.", "a trailing dot"},
	{"127.0.0.1.:443", "a trailing dot before the port"},
	{"1.127.0.0.1", "five parts"},
	{"256.0.0.1", "a part above 255"},
	{"127.0.0.0x1", "a hex last part"},
	{"example.0x", "a last label that is an empty hex number"},
	// Nothing to parse.
	{":443", "a port without host"},
	{":", "a colon"},
}

// validAuthorities are valid forms, each allowed by authorityHosts.
var validAuthorities = []string{
	"api.anthropic.com",
	"API.Anthropic.com:443",
	"api.anthropic.com.",
	"api.anthropic.com.:8443",
	"[::1]:8443",
	"[::1]",
	"[0:0:0:0:0:0:0:1]",
	"[FE80::1]:443",
	"127.0.0.1:10000",
	"127.0.0.1",
}

// authorityRequest is a CheckRequest whose authority is a, placed where
// Check may read it: headers, header_map's value or raw_value, or the host
// attribute alone.
func authorityRequest(a string, where int) *authv3.CheckRequest {
	http := &authv3.AttributeContext_HttpRequest{Id: "req-authority", Method: "GET", Path: "/v1/models"}
	switch where % 4 {
	case 0:
		http.Headers = map[string]string{authorityHeader: a}
	case 1:
		http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: authorityHeader, Value: a}}}
	case 2:
		http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: authorityHeader, RawValue: []byte(a)}}}
	default:
		http.Host = a
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: http}}}
}

var placements = []string{"headers", "header_map value", "header_map raw_value", "host attribute"}

// bothPaths runs req through Check and through the fast path of s and
// fails unless both give the same bytes; it returns the response.
func bothPaths(t *testing.T, s *Server, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	typed, _ := checkTypedBytes(t, s, in)
	w := checkWireBytes(t, s, in)
	if w.unmarshalErr != nil || w.fellBack {
		t.Fatalf("fast path: err %v, fell back %v", w.unmarshalErr, w.fellBack)
	}
	if string(w.resp) != string(typed) {
		t.Fatal("fast path bytes differ from Check's")
	}
	resp := new(authv3.CheckResponse)
	if err := proto.Unmarshal(typed, resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestInvalidAuthorityIsForbidden: every authority outside the grammar is
// a 403 permission_error on both paths, wherever the request carries it,
// in both modes, and the body does not repeat it (it may hold userinfo).
func TestInvalidAuthorityIsForbidden(t *testing.T) {
	servers := map[string]*Server{
		"wif":        newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: authorityHosts}),
		"static-key": newTestServer(t, Options{Credentials: single(ModeStaticKey, StaticKey(secret.New(testKey))), AllowedHosts: authorityHosts}),
	}
	for _, c := range invalidAuthorities {
		for where, place := range placements {
			for mode, s := range servers {
				resp := bothPaths(t, s, authorityRequest(c.authority, where))
				if !forbiddenWithBody(resp, badAuthorityDenial.body) {
					t.Errorf("%s: %s, %s in %s: not the malformed-authority 403:\n%s", mode, c.why, strconv.QuoteToASCII(c.authority), place, masked(protojson.Format(resp)))
				}
			}
		}
	}
}

// TestValidAuthorityIsAllowed: the valid forms get the credential on both
// paths wherever the request carries them, and a list without their host
// refuses them naming the host.
func TestValidAuthorityIsAllowed(t *testing.T) {
	allow := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: authorityHosts})
	other := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: []string{"other.example"}})
	for _, a := range validAuthorities {
		for where, place := range placements {
			if resp := bothPaths(t, allow, authorityRequest(a, where)); resp.GetStatus().GetCode() != int32(codes.OK) {
				t.Errorf("%q in %s: not allowed:\n%s", a, place, masked(protojson.Format(resp)))
			}
			p, _ := parseAuthority(a)
			if resp := bothPaths(t, other, authorityRequest(a, where)); !forbiddenWithBody(resp, forbiddenDenial(p.name()).body) {
				t.Errorf("%q in %s: not the host-not-allowed 403:\n%s", a, place, masked(protojson.Format(resp)))
			}
		}
	}
}

// TestInvalidAuthorityOverGRPC sends issue 7's authorities through a real
// gRPC server with the fast registration, and with the standard one.
func TestInvalidAuthorityOverGRPC(t *testing.T) {
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: authorityHosts})
	fast := grpc.NewServer(grpc.ForceServerCodecV2(NewCodec()))
	s.Register(fast)
	standard := grpc.NewServer()
	authv3.RegisterAuthorizationServer(standard, s)
	for path, conn := range map[string]*grpc.ClientConn{"fast": grpctest.Serve(t, fast), "standard": grpctest.Serve(t, standard)} {
		client := authv3.NewAuthorizationClient(conn)
		for _, c := range invalidAuthorities[:10] {
			resp, err := client.Check(t.Context(), authorityRequest(c.authority, 0))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !forbiddenWithBody(resp, badAuthorityDenial.body) {
				t.Errorf("%s: %s (%s) is not the malformed-authority 403", path, strconv.QuoteToASCII(c.authority), c.why)
			}
		}
		resp, err := client.Check(t.Context(), authorityRequest("API.Anthropic.com:443", 0))
		if err != nil || resp.GetStatus().GetCode() != int32(codes.OK) {
			t.Errorf("%s: a valid authority is not allowed: %v", path, err)
		}
	}
}

// forbiddenWithBody reports whether resp is the 403 permission_error with
// exactly body.
func forbiddenWithBody(resp *authv3.CheckResponse, body string) bool {
	var b struct {
		Error struct{ Type string } `json:"error"`
	}
	d := resp.GetDeniedResponse()
	return resp.GetStatus().GetCode() == int32(codes.PermissionDenied) && d.GetStatus().GetCode() == 403 &&
		d.GetBody() == body && json.Unmarshal([]byte(body), &b) == nil && b.Error.Type == "permission_error"
}

// TestMalformedAuthorityIsNotLogged: the 403 for a malformed authority
// logs its length, never its text, which may carry a secret as userinfo.
func TestMalformedAuthorityIsNotLogged(t *testing.T) {
	var buf strings.Builder
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: authorityHosts, Logger: testLogger(&buf)})
	resp, _ := s.Check(context.Background(), authorityRequest("user:"+clientKey+"@api.anthropic.com", 0))
	if !forbiddenWithBody(resp, badAuthorityDenial.body) {
		t.Fatal("not the malformed-authority 403")
	}
	if !strings.Contains(buf.String(), `"authority_len"`) {
		t.Errorf("the denial was not logged with the authority's length: %s", masked(buf.String()))
	}
}
