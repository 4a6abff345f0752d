package envoyconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
)

// envoyDir holds the project's Envoy bootstraps; envoy/mesh holds Kubernetes manifests, which
// are not bootstraps and are checked elsewhere.
const envoyDir = "../../envoy"

// bootstraps lists every Envoy bootstrap of the project.
func bootstraps(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(envoyDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sidecar.yaml", "local.yaml"} {
		found := false
		for _, f := range files {
			found = found || filepath.Base(f) == want
		}
		if !found {
			t.Fatalf("envoy/%s is missing; found %v", want, files)
		}
	}
	return files
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestProjectBootstrapsAreValid(t *testing.T) {
	for _, file := range bootstraps(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if err := ValidateFile(file); err != nil {
				t.Fatalf("ValidateFile:\n%v", err)
			}
		})
	}
}

// The walk must reach Anys at every depth: the connection manager inside a listener, the
// filters inside the connection manager (an Any inside an Any), map-valued protocol options,
// transport sockets.
func TestDecodeUnpacksEveryAny(t *testing.T) {
	cfg, err := Load(filepath.Join(envoyDir, "sidecar.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	found := map[string]string{}
	for _, e := range cfg.Extensions {
		found[string(proto.MessageName(e.Message))] = e.Path
	}
	for _, m := range []proto.Message{
		new(hcmv3.HttpConnectionManager),
		new(ext_authzv3.ExtAuthz),
		new(routerv3.Router),
		new(tlsv3.UpstreamTlsContext),
	} {
		if _, ok := found[string(proto.MessageName(m))]; !ok {
			t.Errorf("no %s among the unpacked extensions %v", proto.MessageName(m), found)
		}
	}
	const want = "(HttpConnectionManager).http_filters[envoy.filters.http.ext_authz].typed_config(ExtAuthz)"
	if got := found[string(proto.MessageName(new(ext_authzv3.ExtAuthz)))]; !strings.HasSuffix(got, want) {
		t.Errorf("ExtAuthz path = %q, want suffix %q", got, want)
	}
	if len(cfg.Extensions) < 8 {
		t.Errorf("unpacked %d extensions, want at least 8: %v", len(cfg.Extensions), found)
	}
}

// The bootstrap's own ValidateAll stops at Anys; Decode must not. An empty stat_prefix (required
// by the connection manager) and a zero max_request_bytes (ext_authz, an Any inside an Any) pass
// the bootstrap's ValidateAll but not Decode.
func TestDecodeValidatesInsideAnys(t *testing.T) {
	src := readFile(t, filepath.Join(envoyDir, "sidecar.yaml"))
	tests := []struct {
		name, old, new, wantPath, wantText string
	}{
		{"connection manager", "stat_prefix: anthropic", `stat_prefix: ""`, "(HttpConnectionManager)", "StatPrefix"},
		{"ext_authz inside the connection manager", "              clear_route_cache: false",
			"              with_request_body: { max_request_bytes: 0 }\n              clear_route_cache: false",
			"(ExtAuthz)", "MaxRequestBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Decode("sidecar.yaml", []byte(mutate(t, src, tt.old, tt.new)))
			if cfg == nil {
				t.Fatalf("Decode failed outright: %v", err)
			}
			if bootErr := cfg.Bootstrap.ValidateAll(); bootErr != nil {
				t.Fatalf("the bootstrap's own ValidateAll already fails (%v): the test shows nothing", bootErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode error = %v, want ErrInvalid", err)
			}
			v := violationFor(t, err, ErrInvalid)
			if !strings.Contains(v.Path, tt.wantPath) || !strings.Contains(v.Err.Error(), tt.wantText) {
				t.Errorf("violation %q does not locate %s / name %s", v, tt.wantPath, tt.wantText)
			}
		})
	}
}

func TestDecodeRejectsWhatEnvoyWouldNotParse(t *testing.T) {
	src := readFile(t, filepath.Join(envoyDir, "sidecar.yaml"))
	tests := []struct {
		name, old, new, wantText string
	}{
		{"misspelt field", "failure_mode_allow: false", "failure_mode_alow: false", "failure_mode_alow"},
		{"duplicate key", "failure_mode_allow: false", "failure_mode_allow: false\n              failure_mode_allow: false", "failure_mode_allow"},
		{"unknown extension type", "http.router.v3.Router", "http.router.v3.Ruoter", "Ruoter"},
		{"bad enum", "stat_prefix: extauthz\n              transport_api_version: V3", "stat_prefix: extauthz\n              transport_api_version: V4", "V4"},
		{"not YAML", "admin:", "admin: [", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Decode("sidecar.yaml", []byte(mutate(t, src, tt.old, tt.new)))
			if cfg != nil || !errors.Is(err, ErrDecode) {
				t.Fatalf("Decode = %v, %v; want no config and ErrDecode", cfg, err)
			}
			// The message must name what is wrong, so an operator can find it.
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not name %q", err, tt.wantText)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, ErrDecode) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(absent) = %v, want ErrDecode wrapping os.ErrNotExist", err)
	}
	if err := ValidateFile(filepath.Join(t.TempDir(), "absent.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ValidateFile(absent) = %v, want os.ErrNotExist", err)
	}
}

// FuzzDecode: Decode and Check take files from outside; whatever the bytes, they return errors
// rather than panic. The seeds are small (the real files are several KiB, which the fuzzer
// spends its budget minimising) but reach every part of Check: a listener with ext_authz, a
// route, clusters with and without HTTP/2 options, TLS, admin.
func FuzzDecode(f *testing.F) {
	f.Add(`admin: {address: {socket_address: {address: 0.0.0.0, port_value: 1}}}`)
	f.Add(`static_resources: {clusters: [{name: a}, {name: a}]}`)
	f.Add(`{"static_resources": {"listeners": [{"filter_chains": [{"filters": [{"typed_config": {"@type": "type.googleapis.com/google.protobuf.Any"}}]}]}]}}`)
	f.Add(`static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 127.0.0.1, port_value: 1}}
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: up, timeout: 1s}, request_headers_to_add: [{header: {key: k, value: "%REQ(x-api-key)%"}}]}]}]}
          http_filters:
          - name: a
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              grpc_service: {envoy_grpc: {cluster_name: x}, timeout: 2s}
              allowed_headers: {patterns: [{prefix: x-}]}
          - name: r
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: x
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {connection_keepalive: {interval: 1s}}}
  - name: up
    transport_socket:
      name: tls
      typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext}
`)
	f.Fuzz(func(t *testing.T, src string) {
		cfg, _ := Decode("fuzz.yaml", []byte(src))
		if cfg != nil {
			_ = Check(cfg)
		}
	})
}

// mutate replaces the one occurrence of old in src, failing if old is absent or ambiguous, so
// that a mutation test cannot pass by not mutating anything.
func mutate(t testing.TB, src, old, new string) string {
	t.Helper()
	if n := strings.Count(src, old); n != 1 {
		t.Fatalf("%q occurs %d times in the config, want exactly once", old, n)
	}
	return strings.Replace(src, old, new, 1)
}

// violationFor returns the first violation of rule in err.
func violationFor(t testing.TB, err error, rule error) *Violation {
	t.Helper()
	for _, v := range Violations(err) {
		if errors.Is(v.Rule, rule) {
			return v
		}
	}
	t.Fatalf("no violation of %q in:\n%v", rule, err)
	return nil
}
