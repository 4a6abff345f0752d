package envoyconfig

import (
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
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
		{"missing ext_authz cluster", "sidecar.yaml", extAuthzService, "grpc_service:\n                envoy_grpc: { cluster_name: extauthz_gone }", ErrUnknownCluster, "extauthz_gone"},
		{"missing route cluster", "sidecar.yaml", "cluster: anthropic_api", "cluster: anthropic", ErrUnknownCluster, `"anthropic"`},
		{"missing echo cluster", "local.yaml", "cluster: echo\n                  prefix_rewrite", "cluster: echoes\n                  prefix_rewrite", ErrUnknownCluster, "echoes"},
		{"403 on error", "sidecar.yaml", "{ code: ServiceUnavailable }", "{ code: Forbidden }", ErrStatusOnError, "Forbidden"},
		{"no status on error", "local.yaml", "              status_on_error: { code: ServiceUnavailable }\n", "", ErrStatusOnError, "status_on_error"},
		{"transport AUTO", "sidecar.yaml", extAuthzTransport, "stat_prefix: extauthz\n              transport_api_version: AUTO", ErrTransportAPIVersion, "AUTO"},
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
		{"ext_authz disabled per route by FilterConfig", "sidecar.yaml", "              - match: { prefix: \"/\" }\n",
			perRoute(filterConfig, "disabled: true"), ErrExtAuthzDisabled, "typed_per_filter_config[envoy.filters.http.ext_authz]"},
		{"body sent per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n", perRoute(extAuthzPerRoute, "check_settings: { with_request_body: { max_request_bytes: 8192 } }"),
			ErrRequestBody, "check_settings.with_request_body"},
		{"slow service per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n", perRoute(extAuthzPerRoute, "check_settings: { grpc_service: { envoy_grpc: { cluster_name: extauthz }, timeout: 30s } }"),
			ErrCheckTimeout, "30s"},
		{"HTTP/1.1 service per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n", perRoute(extAuthzPerRoute, "check_settings: { grpc_service: { envoy_grpc: { cluster_name: anthropic_api }, timeout: 0.25s } }"),
			ErrNotHTTP2, "clusters[anthropic_api]"},
		{"HTTP service per route", "sidecar.yaml", "              - match: { prefix: \"/\" }\n",
			perRoute(extAuthzPerRoute, "check_settings: { http_service: { server_uri: { uri: \"http://127.0.0.1:9192\", cluster: extauthz, timeout: 0.25s } } }"), ErrNotGRPC, "check_settings.http_service"},
		{"ext_authz partly enabled", "local.yaml", "              clear_route_cache: false",
			"              clear_route_cache: false\n              filter_enabled: { default_value: { numerator: 50 } }", ErrExtAuthzDisabled, "filter_enabled"},
		{"no gRPC health check", "sidecar.yaml", "      grpc_health_check:\n        service_name: envoy.service.auth.v3.Authorization",
			"      http_health_check: { path: /healthz }", ErrNoHealthCheck, "health_checks"},
		{"default route timeout", "sidecar.yaml", "                  timeout: 0s\n", "", ErrRouteTimeout, "timeout"},
		{"short route timeout", "sidecar.yaml", "                  timeout: 0s", "                  timeout: 30s", ErrRouteTimeout, "30s"},
		{"admin on all interfaces", "local.yaml", "{ address: 127.0.0.1, port_value: 9901 }", "{ address: 0.0.0.0, port_value: 9901 }", ErrAdminExposed, "0.0.0.0"},
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

		// Only Envoy may reach extauthz (issue 8): a unix socket, or TLS with a client certificate.
		{"extauthz on loopback TCP", "sidecar.yaml", authzPipe, "              socket_address: { address: 127.0.0.1, port_value: 9191 }", ErrAuthzReachable, "load_assignment"},
		{"extauthz on another host", "local.yaml", authzPipe, "              socket_address: { address: 10.0.0.7, port_value: 9191 }", ErrAuthzReachable, "clusters[extauthz]"},
		{"admin on loopback beside the workload", "sidecar.yaml", adminPipe, "    socket_address: { address: 127.0.0.1, port_value: 9901 }", ErrAdminExposed, "listener \"anthropic\""},

		// Upstream feedback (issue 9): every connection manager streams its access log to extauthz,
		// on extauthz's cluster, and never with a header that can carry a credential.
		{"no feedback logger", "sidecar.yaml", feedbackLogger, "", ErrNoFeedbackLog, "access_log"},
		{"feedback filter drops 401s", "sidecar.yaml", "op: GE\n                  value: { default_value: 400,", "op: GE\n                  value: { default_value: 500,",
			ErrNoFeedbackLog, "access_log[1].filter"},
		{"feedback to another cluster", "local.yaml", "                  envoy_grpc: { cluster_name: extauthz }", "                  envoy_grpc: { cluster_name: echo }",
			ErrAccessLogTarget, `"echo"`},
		{"feedback on transport AUTO", "sidecar.yaml", "                transport_api_version: V3", "                transport_api_version: AUTO", ErrAccessLogTarget, "common_config.transport_api_version"},
		{"bearer logged to extauthz", "sidecar.yaml", "                transport_api_version: V3\n",
			"                transport_api_version: V3\n              additional_request_headers_to_log: [x-request-id, Authorization]\n", ErrLoggedCredential, "additional_request_headers_to_log"},
		{"cookie logged to extauthz", "local.yaml", "                transport_api_version: V3\n",
			"                transport_api_version: V3\n              additional_response_headers_to_log: [set-cookie]\n", ErrLoggedCredential, "set-cookie"},

		// Several credentials (issue 10): once one route selects a credential, all must.
		{"route without a credential", "local.yaml", teamASelection, "", ErrCredentialSelection, "routes[1]"},
		{"second sidecar route without a credential", "sidecar-two-credentials.yaml", teamBSelection, "", ErrCredentialSelection, "routes[1]"},
		{"malformed credential name", "local.yaml", "credential: team-b }", "credential: Team_B }", ErrCredentialSelection, "Team_B"},
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

// Fragments of the shipped files that the mutations above replace.
const (
	extAuthzService   = "grpc_service:\n                envoy_grpc: { cluster_name: extauthz }"
	extAuthzTransport = "stat_prefix: extauthz\n              transport_api_version: V3"
	authzPipe         = "              pipe: { path: /run/extauthz/extauthz.sock }"
	adminPipe         = "    pipe: { path: /run/extauthz/envoy-admin.sock, mode: 384 }"
	feedbackLogger    = `          - name: envoy.access_loggers.http_grpc
            # Only answers of 400 and above go to extauthz: a 401 is what refreshes the token, and
            # the others are the error rates extauthz_upstream_responses_total counts. Logging
            # every request would cost extauthz a decode per request, as much as the Check.
            filter:
              status_code_filter:
                comparison:
                  op: GE
                  value: { default_value: 400, runtime_key: extauthz_feedback.min_status }
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig
              common_config:
                # The stream's identifier.log_name, so extauthz can tell its loggers apart.
                log_name: extauthz-feedback
                grpc_service:
                  envoy_grpc: { cluster_name: extauthz }
                transport_api_version: V3
`
	teamASelection = `                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    check_settings:
                      context_extensions: { credential: team-a }`
	teamBSelection = `                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    check_settings:
                      context_extensions: { credential: team-b }
`
)

// authzTLS is a transport socket for the extauthz cluster: TLS that verifies extauthz's
// certificate, presenting the given client certificate lines (none when empty).
func authzTLS(clientCert string) string {
	return `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: extauthz.internal
        common_tls_context:
` + clientCert + `          validation_context:
            trusted_ca: { filename: /etc/extauthz/ca.pem }
            match_typed_subject_alt_names:
            - san_type: DNS
              matcher: { exact: extauthz.internal }
`
}

// extauthz on TCP is acceptable when Envoy proves itself with a client certificate over verified
// TLS (EXTAUTHZ_TLS_CLIENT_CA_FILE on extauthz's side), and only then.
func TestAuthzOverMutualTLS(t *testing.T) {
	src := mutate(t, readFile(t, filepath.Join(envoyDir, "sidecar.yaml")), authzPipe, "              socket_address: { address: 10.0.0.7, port_value: 9191 }")
	const at = "    connect_timeout: 0.25s\n"
	clientCert := "          tls_certificates:\n          - certificate_chain: { filename: /etc/envoy/client.pem }\n            private_key: { filename: /etc/envoy/client-key.pem }\n"

	err := Validate("sidecar.yaml", []byte(mutate(t, src, at, at+authzTLS(""))))
	if v := violationFor(t, err, ErrAuthzReachable); !strings.Contains(v.Path+" "+v.Detail, "transport_socket") || !strings.Contains(v.Detail, "no client certificate") {
		t.Errorf("violation %q does not name the transport socket and the missing certificate", v)
	}
	if err := Validate("sidecar.yaml", []byte(mutate(t, src, at, at+authzTLS(clientCert)))); err != nil {
		t.Fatalf("mutual TLS to extauthz: Validate:\n%v", err)
	}
	sds := "          tls_certificate_sds_secret_configs: [{ name: envoy-client }]\n"
	if err := Validate("sidecar.yaml", []byte(mutate(t, src, at, at+authzTLS(sds)))); err != nil {
		t.Fatalf("client certificate from SDS: Validate:\n%v", err)
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
	src = mutate(t, src, extAuthzTransport, "stat_prefix: extauthz\n              transport_api_version: AUTO")
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

// What the sidecars must be beyond the shared invariants: a loopback front door that sends
// everything to api.anthropic.com over TLS with that SNI; extauthz on the unix socket and Envoy's
// admin interface in the private directory of the isolated layout (docs/deploy-sidecar.md).
func TestSidecarShape(t *testing.T) {
	for _, file := range []string{"sidecar.yaml", "sidecar-two-credentials.yaml"} {
		t.Run(file, func(t *testing.T) { sidecarShape(t, file) })
	}
}

func sidecarShape(t *testing.T, file string) {
	cfg, err := Load(filepath.Join(envoyDir, file))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cfg.Bootstrap.GetStaticResources().GetListeners() {
		if !loopback(l.GetAddress()) {
			t.Errorf("listener %q is not on loopback", l.GetName())
		}
	}
	const dir = "/run/extauthz/"
	authz := cluster(t, cfg.Bootstrap, "extauthz").GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
	if got := authz.GetPipe().GetPath(); got != dir+"extauthz.sock" {
		t.Errorf("the extauthz endpoint is %v, want the pipe %sextauthz.sock", authz, dir)
	}
	if admin := cfg.Bootstrap.GetAdmin().GetAddress().GetPipe(); !strings.HasPrefix(admin.GetPath(), dir) || admin.GetMode() != 0o600 {
		t.Errorf("admin = %v, want a pipe in %s with mode 0600", admin, dir)
	}
	api := cluster(t, cfg.Bootstrap, "anthropic_api")
	sock := api.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sock.GetAddress() != "api.anthropic.com" || sock.GetPortValue() != 443 {
		t.Errorf("anthropic_api endpoint = %s:%d, want api.anthropic.com:443", sock.GetAddress(), sock.GetPortValue())
	}
	var sni string
	var rewrites []string
	for _, e := range cfg.Extensions {
		if tls, ok := e.Message.(interface{ GetSni() string }); ok {
			sni = tls.GetSni()
		}
		if m, ok := e.Message.(*hcmv3.HttpConnectionManager); ok {
			for _, r := range m.GetRouteConfig().GetVirtualHosts()[0].GetRoutes() {
				rewrites = append(rewrites, r.GetRoute().GetHostRewriteLiteral())
			}
		}
	}
	if sni != "api.anthropic.com" || len(rewrites) == 0 {
		t.Errorf("sni %q, %d routes; want api.anthropic.com and at least one route", sni, len(rewrites))
	}
	for i, rewrite := range rewrites {
		if rewrite != "api.anthropic.com" {
			t.Errorf("route %d rewrites the host to %q, want api.anthropic.com", i, rewrite)
		}
	}
}

// The two-credential files select exactly the credentials their comments and the compose file
// name, and the single-credential sidecar selects none.
func TestCredentialsSelected(t *testing.T) {
	for file, want := range map[string][]string{
		"sidecar.yaml":                 nil,
		"sidecar-two-credentials.yaml": {"team-a", "team-b"},
		"local.yaml":                   {"team-a", "team-b"},
	} {
		cfg, err := Load(filepath.Join(envoyDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := Credentials(cfg); !slices.Equal(got, want) {
			t.Errorf("%s: Credentials = %v, want %v", file, got, want)
		}
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
