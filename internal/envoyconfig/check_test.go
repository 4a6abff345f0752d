package envoyconfig

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Deliberately broken variants of the real files. Each must fail with its rule, and the
// violation must name the offending field or value so an operator can find it.
func TestValidateRejectsBrokenConfigs(t *testing.T) {
	// perRoute puts a per-route config of type typ for the ext_authz filter on the route, its
	// fields given as one line of YAML.
	const extAuthzPerRoute, filterConfig = "envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", "envoy.config.route.v3.FilterConfig"
	perRoute := func(typ, fields string) string {
		return `              - match: { prefix: "/" }
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/` + typ + `
                    ` + fields + "\n"
	}
	tests := []struct {
		name, file, old, new string
		rule                 error
		want                 string // must appear in the violation's path or detail
	}{
		{"fail open", "sidecar.yaml", "failure_mode_allow: false", "failure_mode_allow: true", ErrFailOpen, "failure_mode_allow"},
		{"missing ext_authz cluster", "sidecar.yaml", "cluster_name: extauthz }", "cluster_name: extauthz_gone }", ErrUnknownCluster, "extauthz_gone"},
		{"missing route cluster", "sidecar.yaml", "cluster: anthropic_api", "cluster: anthropic", ErrUnknownCluster, `"anthropic"`},
		{"missing echo cluster", "local.yaml", "cluster: echo", "cluster: echoes", ErrUnknownCluster, "echoes"},
		{"403 on error", "sidecar.yaml", "{ code: ServiceUnavailable }", "{ code: Forbidden }", ErrStatusOnError, "Forbidden"},
		{"no status on error", "local.yaml", "              status_on_error: { code: ServiceUnavailable }\n", "", ErrStatusOnError, "status_on_error"},
		{"transport AUTO", "sidecar.yaml", "transport_api_version: V3", "transport_api_version: AUTO", ErrTransportAPIVersion, "AUTO"},
		{"slow check", "sidecar.yaml", "                timeout: 0.25s", "                timeout: 2s", ErrCheckTimeout, "2s"},
		{"default check timeout", "local.yaml", "                timeout: 0.25s\n", "", ErrCheckTimeout, "grpc_service.timeout"},
		{"request body", "sidecar.yaml", "              clear_route_cache: false",
			"              with_request_body: { max_request_bytes: 8192 }\n              clear_route_cache: false", ErrRequestBody, "with_request_body"},
		{"credential header sent to extauthz", "sidecar.yaml", "                - exact: anthropic-beta",
			"                - exact: anthropic-beta\n                - exact: x-api-key", ErrAllowedHeaders, "patterns[1]"},
		{"prefix pattern", "sidecar.yaml", "                - exact: anthropic-beta", "                - prefix: anthropic-", ErrAllowedHeaders, "patterns[0]"},
		{"every header sent to extauthz", "sidecar.yaml", "              allowed_headers:\n                patterns:\n                - exact: anthropic-beta\n", "", ErrAllowedHeaders, "allowed_headers"},
		{"betas not sent", "sidecar.yaml", "                - exact: anthropic-beta", "                - exact: \":authority\"", ErrAllowedHeaders, "anthropic-beta"},
		{"route cache cleared", "sidecar.yaml", "clear_route_cache: false", "clear_route_cache: true", ErrClearRouteCache, "clear_route_cache"},
		{"ext_authz disabled", "sidecar.yaml", "          - name: envoy.filters.http.ext_authz\n",
			"          - name: envoy.filters.http.ext_authz\n            disabled: true\n", ErrExtAuthzDisabled, "disabled"},
		{"ext_authz disabled per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n", perRoute(extAuthzPerRoute, "disabled: true"), ErrExtAuthzDisabled, "(ExtAuthzPerRoute)"},
		{"ext_authz disabled per route by FilterConfig", "local.yaml", "              - match: { prefix: \"/\" }\n",
			perRoute(filterConfig, "disabled: true"), ErrExtAuthzDisabled, "typed_per_filter_config[envoy.filters.http.ext_authz]"},
		{"body sent per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n", perRoute(extAuthzPerRoute, "check_settings: { with_request_body: { max_request_bytes: 8192 } }"),
			ErrRequestBody, "check_settings.with_request_body"},
		{"slow service per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n", perRoute(extAuthzPerRoute, "check_settings: { grpc_service: { envoy_grpc: { cluster_name: extauthz }, timeout: 30s } }"),
			ErrCheckTimeout, "30s"},
		{"HTTP/1.1 service per route", "local.yaml", "              - match: { prefix: \"/\" }\n", perRoute(extAuthzPerRoute, "check_settings: { grpc_service: { envoy_grpc: { cluster_name: echo }, timeout: 0.25s } }"),
			ErrNotHTTP2, "clusters[echo]"},
		{"HTTP service per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n",
			perRoute(extAuthzPerRoute, "check_settings: { http_service: { server_uri: { uri: \"http://127.0.0.1:9192\", cluster: extauthz, timeout: 0.25s } } }"), ErrNotGRPC, "check_settings.http_service"},
		{"ext_authz partly enabled", "local.yaml", "              clear_route_cache: false",
			"              clear_route_cache: false\n              filter_enabled: { default_value: { numerator: 50 } }", ErrExtAuthzDisabled, "filter_enabled"},
		{"no gRPC health check", "sidecar.yaml", "      grpc_health_check:\n        service_name: envoy.service.auth.v3.Authorization",
			"      http_health_check: { path: /healthz }", ErrNoHealthCheck, "health_checks"},
		{"default route timeout", "sidecar.yaml", "                  timeout: 0s\n", "", ErrRouteTimeout, "timeout"},
		{"short route timeout", "local.yaml", "                  timeout: 0s", "                  timeout: 30s", ErrRouteTimeout, "30s"},
		{"admin on all interfaces", "sidecar.yaml", "{ address: 127.0.0.1, port_value: 9901 }", "{ address: 0.0.0.0, port_value: 9901 }", ErrAdminExposed, "0.0.0.0"},
		{"bearer in the access log", "sidecar.yaml", `user_agent: "%REQ(USER-AGENT)%"`, `auth: "%REQ(Authorization)%"`, ErrCredentialFormat, "%REQ(Authorization)"},
		{"key as a fallback in the access log", "local.yaml", `user_agent: "%REQ(USER-AGENT)%"`, `who: "%REQ(X-USER?X-API-KEY):20%"`, ErrCredentialFormat, "X-API-KEY"},
		{"deprecated field", "sidecar.yaml", "    type: STATIC\n", "    type: STATIC\n    http2_protocol_options: {}\n", ErrDeprecated, "clusters[extauthz].http2_protocol_options"},
		{"TLS without SNI", "sidecar.yaml", "        sni: api.anthropic.com\n", "", ErrUnverifiedTLS, "sni"},
		{"TLS without a CA", "sidecar.yaml", "            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n", "", ErrUnverifiedTLS, "common_tls_context"},
		{"TLS without a name check", "sidecar.yaml", "            match_typed_subject_alt_names:\n            - san_type: DNS\n              matcher: { exact: api.anthropic.com }\n", "",
			ErrUnverifiedTLS, "match_typed_subject_alt_names"},
		{"TLS accepting expired certificates", "sidecar.yaml", "            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n",
			"            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n            allow_expired_certificate: true\n", ErrUnverifiedTLS, "allow_expired_certificate"},
		{"TLS accepting untrusted chains", "sidecar.yaml", "            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n",
			"            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n            trust_chain_verification: ACCEPT_UNTRUSTED\n", ErrUnverifiedTLS, "ACCEPT_UNTRUSTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := readFile(t, filepath.Join(envoyDir, tt.file))
			err := Validate(tt.file, []byte(mutate(t, src, tt.old, tt.new)))
			if !errors.Is(err, tt.rule) {
				t.Fatalf("Validate = %v\nwant a violation of %q", err, tt.rule)
			}
			v := violationFor(t, err, tt.rule)
			if !strings.Contains(v.Path+" "+v.Detail, tt.want) {
				t.Errorf("violation %q does not name %q", v, tt.want)
			}
			if v.File != tt.file || !strings.HasPrefix(v.Error(), tt.file+": ") {
				t.Errorf("violation %q does not name the file %q", v, tt.file)
			}
		})
	}
}

// The peer's name may be checked from the SNI instead of a SAN list, or its key pinned; either
// satisfies the name rule.
func TestUpstreamTLSNameCheckAlternatives(t *testing.T) {
	const sni = "        sni: api.anthropic.com\n"
	const sans = "            match_typed_subject_alt_names:\n            - san_type: DNS\n              matcher: { exact: api.anthropic.com }\n"
	src := mutate(t, readFile(t, filepath.Join(envoyDir, "sidecar.yaml")), sans, "")
	for name, change := range map[string][2]string{
		"auto_sni_san_validation": {sni, sni + "        auto_sni_san_validation: true\n"},
		"pinned key": {"            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n",
			"            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n" +
				"            verify_certificate_spki: [\"NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A=\"]\n"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Validate("sidecar.yaml", []byte(mutate(t, src, change[0], change[1]))); err != nil {
				t.Fatalf("Validate:\n%v", err)
			}
		})
	}
}

// Structural breakage that is clearer to make on the decoded config than in YAML text.
func TestCheckRejectsStructuralChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, b *bootstrapv3.Bootstrap)
		rule   error
		want   string
	}{
		{"router before ext_authz", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editConnectionManager(t, b, func(m *hcmv3.HttpConnectionManager) {
				f := m.HttpFilters
				f[0], f[1] = f[1], f[0]
			})
		}, ErrExtAuthzNotFirst, "envoy.filters.http.router"},
		{"no HTTP filters", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editConnectionManager(t, b, func(m *hcmv3.HttpConnectionManager) { m.HttpFilters = nil })
		}, ErrExtAuthzNotFirst, "http_filters"},
		{"google_grpc instead of envoy_grpc", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editExtAuthz(t, b, func(m *ext_authzv3.ExtAuthz) {
				m.GetGrpcService().TargetSpecifier = &corev3.GrpcService_GoogleGrpc_{
					GoogleGrpc: &corev3.GrpcService_GoogleGrpc{TargetUri: "127.0.0.1:9191", StatPrefix: "extauthz"},
				}
			})
		}, ErrNotGRPC, "grpc_service"},
		{"ext_authz cluster on HTTP/1.1", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			cluster(t, b, "extauthz").TypedExtensionProtocolOptions = nil
		}, ErrNotHTTP2, "clusters[extauthz]"},
		{"keepalive pings every minute", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			cl := cluster(t, b, "extauthz")
			opts := new(httpv3.HttpProtocolOptions)
			if err := cl.TypedExtensionProtocolOptions[httpOptionsKey].UnmarshalTo(opts); err != nil {
				t.Fatal(err)
			}
			opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions().ConnectionKeepalive = &corev3.KeepaliveSettings{
				Interval: durationpb.New(time.Minute), Timeout: durationpb.New(20 * time.Second),
			}
			cl.TypedExtensionProtocolOptions[httpOptionsKey] = pack(t, opts)
		}, ErrKeepalive, "1m0s"},
		{"duplicate cluster", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			sr := b.GetStaticResources()
			sr.Clusters = append(sr.Clusters, proto.Clone(cluster(t, b, "extauthz")).(*clusterv3.Cluster))
		}, ErrDuplicateCluster, "extauthz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(filepath.Join(envoyDir, "sidecar.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, cfg.Bootstrap)
			err = Check(cfg)
			if !errors.Is(err, tt.rule) {
				t.Fatalf("Check = %v\nwant a violation of %q", err, tt.rule)
			}
			if v := violationFor(t, err, tt.rule); !strings.Contains(v.Path+" "+v.Detail, tt.want) {
				t.Errorf("violation %q does not name %q", v, tt.want)
			}
		})
	}
}

// Every problem is reported at once, not just the first.
func TestValidateReportsEveryProblem(t *testing.T) {
	src := readFile(t, filepath.Join(envoyDir, "sidecar.yaml"))
	src = mutate(t, src, "failure_mode_allow: false", "failure_mode_allow: true")
	src = mutate(t, src, "transport_api_version: V3", "transport_api_version: AUTO")
	src = mutate(t, src, "cluster: anthropic_api", "cluster: nowhere")
	err := Validate("sidecar.yaml", []byte(src))
	for _, rule := range []error{ErrFailOpen, ErrTransportAPIVersion, ErrUnknownCluster} {
		if !errors.Is(err, rule) {
			t.Errorf("missing %q in:\n%v", rule, err)
		}
	}
	if n := len(Violations(err)); n != 3 {
		t.Errorf("got %d violations, want 3:\n%v", n, err)
	}
}

// What the sidecar must be beyond the shared invariants: a loopback front door that sends
// everything to api.anthropic.com over TLS with that SNI, and extauthz on loopback.
func TestSidecarShape(t *testing.T) {
	cfg, err := Load(filepath.Join(envoyDir, "sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cfg.Bootstrap.GetStaticResources().GetListeners() {
		if !loopback(l.GetAddress()) {
			t.Errorf("listener %q is not on loopback", l.GetName())
		}
	}
	if !loopback(cluster(t, cfg.Bootstrap, "extauthz").GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()) {
		t.Error("the extauthz endpoint is not on loopback")
	}
	api := cluster(t, cfg.Bootstrap, "anthropic_api")
	sock := api.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sock.GetAddress() != "api.anthropic.com" || sock.GetPortValue() != 443 {
		t.Errorf("anthropic_api endpoint = %s:%d, want api.anthropic.com:443", sock.GetAddress(), sock.GetPortValue())
	}
	var sni, rewrite string
	for _, e := range cfg.Extensions {
		if tls, ok := e.Message.(interface{ GetSni() string }); ok {
			sni = tls.GetSni()
		}
		if m, ok := e.Message.(*hcmv3.HttpConnectionManager); ok {
			rewrite = m.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetHostRewriteLiteral()
		}
	}
	if sni != "api.anthropic.com" || rewrite != "api.anthropic.com" {
		t.Errorf("sni %q, host rewrite %q; want api.anthropic.com for both", sni, rewrite)
	}
}

func loopback(a *corev3.Address) bool {
	if a.GetPipe() != nil {
		return true
	}
	ip, err := netip.ParseAddr(a.GetSocketAddress().GetAddress())
	return err == nil && ip.IsLoopback()
}

func cluster(t *testing.T, b *bootstrapv3.Bootstrap, name string) *clusterv3.Cluster {
	t.Helper()
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == name {
			return c
		}
	}
	t.Fatalf("no cluster %q", name)
	return nil
}

func pack(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// editConnectionManager unpacks the first listener's connection manager, edits it and packs it
// back.
func editConnectionManager(t *testing.T, b *bootstrapv3.Bootstrap, edit func(*hcmv3.HttpConnectionManager)) {
	t.Helper()
	filter := b.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0]
	m := new(hcmv3.HttpConnectionManager)
	if err := filter.GetTypedConfig().UnmarshalTo(m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	filter.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: pack(t, m)}
}

// editExtAuthz edits the first HTTP filter (ext_authz) of the first connection manager.
func editExtAuthz(t *testing.T, b *bootstrapv3.Bootstrap, edit func(*ext_authzv3.ExtAuthz)) {
	t.Helper()
	editConnectionManager(t, b, func(m *hcmv3.HttpConnectionManager) {
		f := m.GetHttpFilters()[0]
		e := new(ext_authzv3.ExtAuthz)
		if err := f.GetTypedConfig().UnmarshalTo(e); err != nil {
			t.Fatal(err)
		}
		edit(e)
		f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: pack(t, e)}
	})
}
