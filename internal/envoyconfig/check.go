package envoyconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
)

const (
	// maxCheckTimeout bounds how long a request may wait on extauthz: Check is a cache read.
	maxCheckTimeout = time.Second
	// minKeepaliveInterval is grpc-go's default keepalive.EnforcementPolicy.MinTime; a client
	// pinging more often is sent GOAWAY "too_many_pings".
	minKeepaliveInterval = 5 * time.Minute
	// minRouteTimeout is the shortest finite route timeout accepted for streamed LLM responses.
	minRouteTimeout = 5 * time.Minute
)

// headersExtauthzReads are the only client headers extauthz looks at: the host (it also has the
// request's host attribute, always sent) and anthropic-beta, whose values it merges into the
// anthropic-beta it sets. anthropic-beta must be forwarded or the client's betas are lost.
var headersExtauthzReads = map[string]bool{"anthropic-beta": true, ":authority": true, "host": true}

// credentialHeaders may carry a credential; no substitution format may copy them anywhere.
var credentialHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "x-api-key": true}

// headerCommand matches Envoy substitution-format commands that read a header, capturing the
// header list: %REQ(X?Y):N%, %RESP(X)%, %TRAILER(X)%, %REQUEST_HEADER(X)% and the like.
var headerCommand = regexp.MustCompile(`(?i)%(?:REQ|REQ_WITHOUT_QUERY|RESP|TRAILER|REQUEST_HEADER|RESPONSE_HEADER|RESPONSE_TRAILER)\(([^)]*)\)`)

// httpOptionsKey is the typed_extension_protocol_options key of upstream HTTP options.
const httpOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// Check asserts the invariants of a config that fronts extauthz (see the package comment). It
// returns nil or every *Violation found, joined.
func Check(cfg *Config) error {
	c := &checker{file: cfg.Name, authzClusterNames: authzClusters(cfg.Bootstrap)}
	c.indexClusters(cfg.Bootstrap)
	w := walker{
		message: c.message,
		field:   c.field,
		failed: func(path string, err error) {
			c.problems = append(c.problems, &Violation{File: c.file, Path: path, Rule: ErrDecode, Err: err})
		},
	}
	w.walk("", cfg.Bootstrap)
	c.adminBesideWorkload(cfg.Bootstrap)
	return errors.Join(c.problems...)
}

type checker struct {
	file string
	// clusters holds the static clusters by name; nil when clusters also come from CDS, so
	// references cannot be checked.
	clusters map[string]*clusterv3.Cluster
	// authzFilters holds the names of the ext_authz HTTP filters seen so far; a connection
	// manager is visited before its routes, which name filters in typed_per_filter_config.
	authzFilters map[string]bool
	// authzClusterNames holds every cluster an ext_authz filter or per-route override calls.
	authzClusterNames map[string]bool
	problems          []error
}

func (c *checker) add(path string, rule error, detail string, args ...any) {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	c.problems = append(c.problems, &Violation{File: c.file, Path: path, Rule: rule, Detail: detail})
}

func clusterPath(name string) string { return "static_resources.clusters[" + name + "]" }

func (c *checker) indexClusters(b *bootstrapv3.Bootstrap) {
	if b.GetDynamicResources().GetCdsConfig() != nil || b.GetDynamicResources().GetCdsResourcesLocator() != "" {
		return
	}
	c.clusters = make(map[string]*clusterv3.Cluster)
	for _, cl := range b.GetStaticResources().GetClusters() {
		if _, dup := c.clusters[cl.GetName()]; dup {
			c.add(clusterPath(cl.GetName()), ErrDuplicateCluster, "%q", cl.GetName())
		}
		c.clusters[cl.GetName()] = cl
	}
}

// message dispatches on the type of every message in the tree, unpacked Anys included.
func (c *checker) message(path string, m proto.Message) {
	c.perFilterConfigs(path, m)
	switch m := m.(type) {
	case *bootstrapv3.Admin:
		c.admin(path, m)
	case *hcmv3.HttpConnectionManager:
		c.connectionManager(path, m)
	case *ext_authzv3.ExtAuthz:
		c.extAuthz(path, m)
	case *ext_authzv3.ExtAuthzPerRoute:
		c.extAuthzPerRoute(path, m)
	case *routev3.RouteAction:
		c.routeAction(path, m)
	case *routev3.WeightedCluster_ClusterWeight:
		c.reference(path+".name", m.GetName())
	case *routev3.RouteAction_RequestMirrorPolicy:
		c.reference(path+".cluster", m.GetCluster())
	case *corev3.GrpcService_EnvoyGrpc:
		c.reference(path+".cluster_name", m.GetClusterName())
	case *corev3.HttpUri:
		c.reference(path+".cluster", m.GetCluster())
	case *tlsv3.UpstreamTlsContext:
		c.upstreamTLS(path, m)
	case *alsv3.HttpGrpcAccessLogConfig:
		c.grpcAccessLog(path, m)
	}
}

// field checks every populated field: no deprecated field or enum value, no substitution format
// that reads a credential header.
func (c *checker) field(path string, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
		c.add(path, ErrDeprecated, "field %s", fd.FullName())
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			if opts, ok := ev.Options().(*descriptorpb.EnumValueOptions); ok && opts.GetDeprecated() {
				c.add(path, ErrDeprecated, "enum value %s", ev.FullName())
			}
		}
	case protoreflect.StringKind:
		for _, m := range headerCommand.FindAllStringSubmatch(v.String(), -1) {
			for _, name := range strings.Split(m[1], "?") {
				if credentialHeaders[strings.ToLower(strings.TrimSpace(name))] {
					c.add(path, ErrCredentialFormat, "%s", m[0])
				}
			}
		}
	}
}

func (c *checker) reference(path, name string) {
	if c.clusters == nil || name == "" {
		return
	}
	if _, ok := c.clusters[name]; !ok {
		c.add(path, ErrUnknownCluster, "%q", name)
	}
}

func (c *checker) admin(path string, m *bootstrapv3.Admin) {
	addr := m.GetAddress()
	if addr == nil || addr.GetPipe() != nil {
		return
	}
	host := addr.GetSocketAddress().GetAddress()
	if isLoopbackHost(host) {
		return
	}
	c.add(path+".address", ErrAdminExposed, "%q", host)
}

func (c *checker) connectionManager(path string, m *hcmv3.HttpConnectionManager) {
	filters := m.GetHttpFilters()
	for _, f := range filters {
		if inner, err := f.GetTypedConfig().UnmarshalNew(); err == nil && isExtAuthz(inner) {
			if c.authzFilters == nil {
				c.authzFilters = make(map[string]bool)
			}
			c.authzFilters[f.GetName()] = true
		}
	}
	if len(filters) == 0 {
		c.add(path+".http_filters", ErrExtAuthzNotFirst, "there are no HTTP filters")
		return
	}
	first := filters[0]
	firstPath := path + ".http_filters[" + first.GetName() + "]"
	if first.GetName() == "" {
		firstPath = path + ".http_filters[0]"
	}
	typeURL := first.GetTypedConfig().GetTypeUrl()
	if inner, err := first.GetTypedConfig().UnmarshalNew(); err != nil || !isExtAuthz(inner) {
		c.add(firstPath, ErrExtAuthzNotFirst, "the first is %q (%s)", first.GetName(), typeURL)
		return
	}
	if first.GetDisabled() {
		c.add(firstPath+".disabled", ErrExtAuthzDisabled, "the filter is disabled in the connection manager")
	}
	c.feedbackLogger(path, m)
	c.credentialSelection(path, m)
}

func isExtAuthz(m proto.Message) bool {
	_, ok := m.(*ext_authzv3.ExtAuthz)
	return ok
}

// perFilterConfigs finds the generic per-route wrapper (FilterConfig, in a route's, virtual
// host's or weighted cluster's typed_per_filter_config) switching an ext_authz filter off: Envoy
// then skips the check on that route as it would for ExtAuthzPerRoute.disabled.
func (c *checker) perFilterConfigs(path string, m proto.Message) {
	fd := m.ProtoReflect().Descriptor().Fields().ByName("typed_per_filter_config")
	if fd == nil || !fd.IsMap() || fd.MapValue().Message() == nil || fd.MapValue().Message().FullName() != anyFullName {
		return
	}
	m.ProtoReflect().Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		a, ok := v.Message().Interface().(*anypb.Any)
		fc := new(routev3.FilterConfig)
		if ok && a.MessageIs(fc) && a.UnmarshalTo(fc) == nil && fc.GetDisabled() && c.authzFilters[k.String()] {
			c.add(path+".typed_per_filter_config["+k.String()+"]", ErrExtAuthzDisabled, "a FilterConfig with disabled: true turns the check off")
		}
		return true
	})
}

func (c *checker) extAuthz(path string, m *ext_authzv3.ExtAuthz) {
	if v := m.GetTransportApiVersion(); v != corev3.ApiVersion_V3 {
		c.add(path+".transport_api_version", ErrTransportAPIVersion, "it is %s", v)
	}
	if m.GetFailureModeAllow() {
		c.add(path+".failure_mode_allow", ErrFailOpen, "it is true")
	}
	if code := m.GetStatusOnError().GetCode(); code != typev3.StatusCode_ServiceUnavailable {
		c.add(path+".status_on_error", ErrStatusOnError, "it is %s (unset means Envoy's default 403)", code)
	}
	c.checkService(path+".grpc_service", m.GetGrpcService())
	if m.GetWithRequestBody() != nil {
		c.add(path+".with_request_body", ErrRequestBody, "it is set")
	}
	c.allowedHeaders(path+".allowed_headers", m)
	if m.GetClearRouteCache() {
		c.add(path+".clear_route_cache", ErrClearRouteCache, "it is true")
	}
	if m.GetFilterEnabled() != nil || m.GetFilterEnabledMetadata() != nil || m.GetDenyAtDisable() != nil {
		c.add(path, ErrExtAuthzDisabled, "filter_enabled, filter_enabled_metadata or deny_at_disable is set")
	}
}

// extAuthzPerRoute checks a route's override of the filter: it may add context extensions, but
// not turn the check off, send the body, or call anything but a checked gRPC service.
func (c *checker) extAuthzPerRoute(path string, m *ext_authzv3.ExtAuthzPerRoute) {
	if m.GetDisabled() {
		c.add(path+".disabled", ErrExtAuthzDisabled, "a per-route config turns the check off")
	}
	settings := m.GetCheckSettings()
	if settings.GetWithRequestBody() != nil {
		c.add(path+".check_settings.with_request_body", ErrRequestBody, "a per-route config sends the body")
	}
	switch {
	case settings.GetGrpcService() != nil:
		c.checkService(path+".check_settings.grpc_service", settings.GetGrpcService())
	case settings.GetHttpService() != nil:
		c.add(path+".check_settings.http_service", ErrNotGRPC, "a per-route config calls an HTTP service")
	}
}

func (c *checker) checkService(path string, s *corev3.GrpcService) {
	envoyGRPC := s.GetEnvoyGrpc()
	if envoyGRPC == nil {
		c.add(path, ErrNotGRPC, "no grpc_service.envoy_grpc")
		return
	}
	switch t := s.GetTimeout(); {
	case t == nil:
		c.add(path+".timeout", ErrCheckTimeout, "it is unset")
	case t.AsDuration() <= 0 || t.AsDuration() > maxCheckTimeout:
		c.add(path+".timeout", ErrCheckTimeout, "it is %s", t.AsDuration())
	}
	cl, ok := c.clusters[envoyGRPC.GetClusterName()]
	if !ok {
		return // reported by reference, or not checkable with CDS
	}
	c.authzCluster(clusterPath(cl.GetName()), cl)
}

func (c *checker) allowedHeaders(path string, m *ext_authzv3.ExtAuthz) {
	patterns := m.GetAllowedHeaders().GetPatterns()
	if len(patterns) == 0 {
		c.add(path, ErrAllowedHeaders, "unset: Envoy would send every client header, prompts' and credentials included")
		return
	}
	sendsBeta := false
	for i, p := range patterns {
		name := strings.ToLower(p.GetExact())
		if !headersExtauthzReads[name] {
			c.add(fmt.Sprintf("%s.patterns[%d]", path, i), ErrAllowedHeaders,
				"only exact matches of anthropic-beta, :authority or host are allowed")
		}
		sendsBeta = sendsBeta || name == "anthropic-beta"
	}
	if !sendsBeta {
		c.add(path, ErrAllowedHeaders, "anthropic-beta is missing: extauthz would overwrite the client's betas")
	}
}

// authzCluster checks the cluster ext_authz calls: reachable only by Envoy (authzIsolation),
// HTTP/2, gRPC health checked, keepalive pings (if any) no more often than grpc-go accepts.
func (c *checker) authzCluster(path string, cl *clusterv3.Cluster) {
	c.authzIsolation(path, cl)
	h2 := http2Options(cl)
	if h2 == nil {
		c.add(path, ErrNotHTTP2, "no %s with explicit_http_config.http2_protocol_options", httpOptionsKey)
	} else if ka := h2.GetConnectionKeepalive(); ka != nil && ka.GetInterval().AsDuration() < minKeepaliveInterval {
		c.add(path, ErrKeepalive, "connection_keepalive.interval is %s", ka.GetInterval().AsDuration())
	}
	for _, hc := range cl.GetHealthChecks() {
		if hc.GetGrpcHealthCheck() != nil {
			return
		}
	}
	c.add(path+".health_checks", ErrNoHealthCheck, "cluster %q", cl.GetName())
}

// http2Options returns the HTTP/2 options a cluster is explicitly configured with, or nil.
func http2Options(cl *clusterv3.Cluster) *corev3.Http2ProtocolOptions {
	a, ok := cl.GetTypedExtensionProtocolOptions()[httpOptionsKey]
	if !ok {
		return nil
	}
	opts := new(httpv3.HttpProtocolOptions)
	if err := a.UnmarshalTo(opts); err != nil {
		return nil
	}
	return opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions()
}

func (c *checker) routeAction(path string, m *routev3.RouteAction) {
	c.reference(path+".cluster", m.GetCluster())
	switch t := m.GetTimeout(); {
	case t == nil:
		c.add(path+".timeout", ErrRouteTimeout, "it is unset")
	case t.AsDuration() != 0 && t.AsDuration() < minRouteTimeout:
		c.add(path+".timeout", ErrRouteTimeout, "it is %s", t.AsDuration())
	}
}

func (c *checker) upstreamTLS(path string, m *tlsv3.UpstreamTlsContext) {
	if m.GetSni() == "" {
		c.add(path+".sni", ErrUnverifiedTLS, "sni is unset")
	}
	ctx := m.GetCommonTlsContext()
	if ctx.GetValidationContextSdsSecretConfig() != nil || ctx.GetCombinedValidationContext().GetValidationContextSdsSecretConfig() != nil {
		return // the validation context comes from SDS: its content is not in this file
	}
	vcPath := path + ".common_tls_context.validation_context"
	vc := ctx.GetValidationContext()
	if vc == nil {
		vcPath = path + ".common_tls_context.combined_validation_context.default_validation_context"
		vc = ctx.GetCombinedValidationContext().GetDefaultValidationContext()
	}
	if vc.GetTrustedCa() == nil && vc.GetSystemRootCerts() == nil && vc.GetCaCertificateProviderInstance() == nil {
		c.add(path+".common_tls_context", ErrUnverifiedTLS, "no trusted CA: the peer certificate is not verified")
	}
	if vc.GetTrustChainVerification() == tlsv3.CertificateValidationContext_ACCEPT_UNTRUSTED {
		c.add(vcPath+".trust_chain_verification", ErrUnverifiedTLS, "ACCEPT_UNTRUSTED")
	}
	if vc.GetAllowExpiredCertificate() {
		c.add(vcPath+".allow_expired_certificate", ErrUnverifiedTLS, "an expired certificate would be accepted")
	}
	// A trusted CA alone accepts a certificate it issued for any name: whoever can answer for the
	// upstream's address (DNS, the network path) with such a certificate receives the bearer.
	// The name must be checked too, or the key pinned.
	names := len(vc.GetMatchTypedSubjectAltNames()) > 0 || len(vc.GetMatchSubjectAltNames()) > 0 || m.GetAutoSniSanValidation()
	pinned := len(vc.GetVerifyCertificateSpki()) > 0 || len(vc.GetVerifyCertificateHash()) > 0
	if !names && !pinned {
		c.add(vcPath+".match_typed_subject_alt_names", ErrUnverifiedTLS,
			"unset (nor auto_sni_san_validation): a certificate a trusted CA issued for any name would be accepted")
	}
}
