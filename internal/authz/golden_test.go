package authz

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/secret"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the responses Check gives now")

// checkCase is one row of the golden table: a fixture request, a server
// configuration, and testdata/golden/<name>.json, the expected response.
type checkCase struct {
	name    string
	request string
	mode    Mode
	creds   Credentials
	hosts   []string
}

var anthropicOnly = []string{"api.anthropic.com"}

// checkCases covers every row of design.md's Check table in both modes.
var checkCases = []checkCase{
	// Row "WIF mode, token servable".
	{"wif_ok_basic", "basic", ModeWIF, servable(testToken), nil},
	{"wif_ok_client_beta", "client_beta", ModeWIF, servable(testToken), nil},
	{"wif_ok_header_map_raw", "header_map_raw", ModeWIF, servable(testToken), nil},
	{"wif_ok_headers_and_header_map", "headers_and_header_map", ModeWIF, servable(testToken), nil},
	// Row "static-key mode": anthropic-beta is never touched.
	{"static_ok_basic", "basic", ModeStaticKey, StaticKey(secret.New(testKey)), nil},
	{"static_ok_client_beta", "client_beta", ModeStaticKey, StaticKey(secret.New(testKey)), nil},
	{"static_ok_header_map_raw", "header_map_raw", ModeStaticKey, StaticKey(secret.New(testKey)), nil},
	// Row "no servable token"; an unsendable credential takes the same path.
	{"wif_unavailable", "basic", ModeWIF, notServable(7 * time.Second), nil},
	{"wif_unavailable_rounds_retry_after_up", "client_beta", ModeWIF, notServable(1500 * time.Millisecond), nil},
	{"wif_unusable_token", "basic", ModeWIF, servable("sk-ant-oat01-" + badSecretMark + "\x00"), nil},
	{"static_unusable_key", "basic", ModeStaticKey, StaticKey(secret.New(badSecretMark + "\r\nx-evil: 1")), nil},
	{"static_empty_key", "basic", ModeStaticKey, StaticKey(secret.Value{}), nil},
	// Row ":authority host not in EXTAUTHZ_ALLOWED_HOSTS", and its allowed
	// counterparts: case, port, trailing dot, IPv6, host attribute fallback.
	// A bare IPv6 address is no authority (RFC 3986 brackets it): denied
	// even when its address is listed.
	{"wif_allowed_host_port", "host_port", ModeWIF, servable(testToken), anthropicOnly},
	{"static_allowed_host_port", "host_port", ModeStaticKey, StaticKey(secret.New(testKey)), anthropicOnly},
	{"wif_allowed_header_map_authority", "header_map_raw", ModeWIF, servable(testToken), anthropicOnly},
	{"wif_allowed_host_attribute", "host_attribute_only", ModeWIF, servable(testToken), anthropicOnly},
	{"wif_allowed_ipv6_bracketed", "ipv6_bracketed", ModeWIF, servable(testToken), []string{"::1"}},
	{"wif_forbidden_ipv6_bare", "ipv6_bare_host", ModeWIF, servable(testToken), []string{"[::1]"}},
	{"wif_forbidden_host", "other_host", ModeWIF, servable(testToken), anthropicOnly},
	{"static_forbidden_host", "other_host", ModeStaticKey, StaticKey(secret.New(testKey)), anthropicOnly},
	{"wif_forbidden_ipv6", "ipv6_bracketed", ModeWIF, servable(testToken), anthropicOnly},
	{"wif_forbidden_no_host", "no_host", ModeWIF, servable(testToken), anthropicOnly},
	{"wif_forbidden_before_unavailable", "other_host", ModeWIF, notServable(7 * time.Second), anthropicOnly},
	// Row "request without attributes.request.http".
	{"wif_invalid_no_http", "no_http_attributes", ModeWIF, servable(testToken), nil},
	{"static_invalid_no_http", "no_http_attributes", ModeStaticKey, StaticKey(secret.New(testKey)), nil},
	{"wif_invalid_empty", "empty", ModeWIF, servable(testToken), anthropicOnly},
	{"static_invalid_empty", "empty", ModeStaticKey, StaticKey(secret.New(testKey)), nil},
}

func TestCheckGolden(t *testing.T) {
	for _, c := range checkCases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t, Options{Credentials: single(c.mode, c.creds), AllowedHosts: c.hosts})
			got, err := s.Check(context.Background(), loadRequest(t, c.request))
			if err != nil {
				t.Fatalf("Check returned an error: %v", err)
			}
			for _, p := range responseProblems(got) {
				t.Error(p)
			}
			path := filepath.Join("testdata", "golden", c.name+".json")
			if *update {
				writeGolden(t, path, got)
				return
			}
			want := readGolden(t, path)
			if !proto.Equal(got, want) {
				t.Errorf("response differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s",
					path, masked(protojson.Format(got)), masked(protojson.Format(want)))
			}
		})
	}
}

// TestEveryFixtureHasACase keeps the fixtures and the table in step.
func TestEveryFixtureHasACase(t *testing.T) {
	used := map[string]bool{}
	for _, c := range checkCases {
		used[c.request] = true
	}
	for _, n := range requestNames(t) {
		if !used[n] {
			t.Errorf("testdata/requests/%s.json is used by no golden case", n)
		}
	}
}

func readGolden(t *testing.T, path string) *authv3.CheckResponse {
	t.Helper()
	want := new(authv3.CheckResponse)
	readProtoJSON(t, path, want)
	return want
}

func writeGolden(t *testing.T, path string, resp *authv3.CheckResponse) {
	t.Helper()
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
