package envoyconfig

import (
	"fmt"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
)

// loggedCredentialHeaders may carry a credential and must not be copied into an access-log entry:
// at log time the request carries the bearer extauthz injected.
var loggedCredentialHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "x-api-key": true, "cookie": true, "set-cookie": true,
}

// authzClusters collects the clusters every ext_authz filter and per-route override calls, before
// the main walk, so that an access logger met earlier in the tree can be checked against them.
func authzClusters(root proto.Message) map[string]bool {
	out := make(map[string]bool)
	add := func(s *corev3.GrpcService) {
		if name := s.GetEnvoyGrpc().GetClusterName(); name != "" {
			out[name] = true
		}
	}
	w := walker{message: func(_ string, m proto.Message) {
		switch m := m.(type) {
		case *ext_authzv3.ExtAuthz:
			add(m.GetGrpcService())
		case *ext_authzv3.ExtAuthzPerRoute:
			add(m.GetCheckSettings().GetGrpcService())
		}
	}}
	w.walk("", root)
	return out
}

// grpcAccessLog checks a gRPC HTTP access logger: it streams to extauthz (the only Access Log
// Service this project runs) over envoy_grpc with transport V3, and logs no header that can carry
// a credential.
func (c *checker) grpcAccessLog(path string, m *alsv3.HttpGrpcAccessLogConfig) {
	common := m.GetCommonConfig()
	cluster := common.GetGrpcService().GetEnvoyGrpc().GetClusterName()
	switch {
	case common.GetGrpcService().GetEnvoyGrpc() == nil:
		c.add(path+".common_config.grpc_service", ErrAccessLogTarget, "no envoy_grpc")
	case !c.authzClusterNames[cluster]:
		c.add(path+".common_config.grpc_service.envoy_grpc.cluster_name", ErrAccessLogTarget,
			"%q is not a cluster an ext_authz filter calls", cluster)
	}
	if v := common.GetTransportApiVersion(); v != corev3.ApiVersion_V3 {
		c.add(path+".common_config.transport_api_version", ErrAccessLogTarget, "it is %s, want V3", v)
	}
	for field, names := range map[string][]string{
		"additional_request_headers_to_log":   m.GetAdditionalRequestHeadersToLog(),
		"additional_response_headers_to_log":  m.GetAdditionalResponseHeadersToLog(),
		"additional_response_trailers_to_log": m.GetAdditionalResponseTrailersToLog(),
	} {
		for _, name := range names {
			if loggedCredentialHeaders[strings.ToLower(strings.TrimSpace(name))] {
				c.add(path+"."+field, ErrLoggedCredential, "%q", name)
			}
		}
	}
}

// feedbackLogger checks that a connection manager running ext_authz streams its access log to the
// cluster its ext_authz filter calls: without it extauthz never sees an upstream 401, and a revoked
// token is served until its next scheduled refresh.
func (c *checker) feedbackLogger(path string, m *hcmv3.HttpConnectionManager) {
	want := ""
	for _, f := range m.GetHttpFilters() {
		e := new(ext_authzv3.ExtAuthz)
		if f.GetTypedConfig().UnmarshalTo(e) == nil {
			want = e.GetGrpcService().GetEnvoyGrpc().GetClusterName()
			break
		}
	}
	if want == "" {
		return // no ext_authz over envoy_grpc here: reported elsewhere
	}
	for i, al := range m.GetAccessLog() {
		logger := new(alsv3.HttpGrpcAccessLogConfig)
		if al.GetTypedConfig().UnmarshalTo(logger) == nil &&
			logger.GetCommonConfig().GetGrpcService().GetEnvoyGrpc().GetClusterName() == want {
			if f := al.GetFilter(); f != nil && !passes401(f) {
				c.add(fmt.Sprintf("%s.access_log[%d].filter", path, i), ErrNoFeedbackLog,
					"the filter must let upstream 401s through: no filter, or status_code_filter GE/LE/EQ that admits 401")
			}
			return
		}
	}
	c.add(path+".access_log", ErrNoFeedbackLog, "no envoy.access_loggers.http_grpc to cluster %q", want)
}

// passes401 reports whether an access-log filter certainly logs a 401: a
// status_code_filter comparison that holds for 401 (its default value; a
// runtime override is the operator's). Any other filter kind is refused
// rather than evaluated.
func passes401(f *accesslogv3.AccessLogFilter) bool {
	cmp := f.GetStatusCodeFilter().GetComparison()
	if cmp == nil {
		return false
	}
	v := cmp.GetValue().GetDefaultValue()
	switch cmp.GetOp() {
	case accesslogv3.ComparisonFilter_GE:
		return v <= 401
	case accesslogv3.ComparisonFilter_LE:
		return v >= 401
	case accesslogv3.ComparisonFilter_EQ:
		return v == 401
	}
	return false
}
