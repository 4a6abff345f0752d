package envoyconfig

import (
	"errors"
	"strings"
)

// The rules a config can break. Every *Violation unwraps to exactly one of them, so callers and
// tests branch with errors.Is.
var (
	ErrDecode              = errors.New("not a valid Envoy v3 bootstrap")
	ErrInvalid             = errors.New("fails protoc-gen-validate rules")
	ErrDeprecated          = errors.New("uses a deprecated field or enum value")
	ErrExtAuthzNotFirst    = errors.New("ext_authz must be the first HTTP filter")
	ErrExtAuthzDisabled    = errors.New("ext_authz must not be disabled or partially enabled")
	ErrTransportAPIVersion = errors.New("ext_authz transport_api_version must be V3")
	ErrFailOpen            = errors.New("ext_authz must fail closed (failure_mode_allow: false)")
	ErrStatusOnError       = errors.New("ext_authz status_on_error must be 503")
	ErrNotGRPC             = errors.New("ext_authz must call extauthz through grpc_service.envoy_grpc")
	ErrCheckTimeout        = errors.New("ext_authz grpc_service.timeout must be set, above 0 and at most 1s")
	ErrRequestBody         = errors.New("ext_authz must not send the request body (with_request_body)")
	ErrAllowedHeaders      = errors.New("ext_authz allowed_headers must list exactly the headers extauthz reads")
	ErrClearRouteCache     = errors.New("ext_authz clear_route_cache must be false")
	ErrUnknownCluster      = errors.New("references a cluster that is not defined")
	ErrDuplicateCluster    = errors.New("defines a cluster name twice")
	ErrNotHTTP2            = errors.New("the ext_authz cluster must speak HTTP/2")
	ErrNoHealthCheck       = errors.New("the ext_authz cluster needs a grpc_health_check")
	ErrKeepalive           = errors.New("HTTP/2 keepalive pings to a grpc-go server must be at least 300s apart")
	ErrRouteTimeout        = errors.New("route timeout must be 0 (disabled) or at least 300s: Envoy's 15s default cuts streamed responses")
	ErrUnverifiedTLS       = errors.New("upstream TLS must set sni and verify the peer against a trusted CA and by name")
	ErrAdminExposed        = errors.New("the admin interface must listen on loopback or a unix socket")
	ErrCredentialFormat    = errors.New("a substitution format names a credential header")
	ErrAuthzReachable      = errors.New("the ext_authz cluster must be a unix socket (pipe) or TLS with a client certificate: whoever reaches extauthz can take the credential")
	ErrNoFeedbackLog       = errors.New("a connection manager with ext_authz must stream its access log to extauthz (envoy.access_loggers.http_grpc on the ext_authz cluster)")
	ErrAccessLogTarget     = errors.New("a gRPC access logger must stream to the ext_authz cluster over envoy_grpc with transport_api_version V3")
	ErrLoggedCredential    = errors.New("a gRPC access logger must not log a header that can carry a credential (authorization, proxy-authorization, x-api-key, cookie, set-cookie)")
	ErrCredentialSelection = errors.New("when any route selects a credential (context_extensions credential), every forwarding route must select a valid one")
)

// A Violation is one problem in one config file.
type Violation struct {
	// File names the config (usually its path).
	File string
	// Path locates the field, e.g. static_resources.listeners[anthropic].filter_chains[0]….
	// Unpacked Any values appear as typed_config(ExtAuthz); list elements with a name as [name].
	Path string
	// Rule is the broken rule, one of the Err variables of this package.
	Rule error
	// Detail says what was found, when the rule alone does not.
	Detail string
	// Err is the underlying error from the decoder or a validator, if any.
	Err error
}

// Error reads "file: path: rule: detail: underlying error", leaving out the parts that are empty.
func (v *Violation) Error() string {
	var b strings.Builder
	b.WriteString(v.File)
	if v.Path != "" {
		b.WriteString(": ")
		b.WriteString(v.Path)
	}
	b.WriteString(": ")
	b.WriteString(v.Rule.Error())
	if v.Detail != "" {
		b.WriteString(": ")
		b.WriteString(v.Detail)
	}
	if v.Err != nil {
		b.WriteString(": ")
		b.WriteString(v.Err.Error())
	}
	return b.String()
}

// Unwrap returns the rule and, if there is one, the underlying error.
func (v *Violation) Unwrap() []error {
	if v.Err == nil {
		return []error{v.Rule}
	}
	return []error{v.Rule, v.Err}
}

// Violations lists every *Violation in err, looking through errors.Join trees.
func Violations(err error) []*Violation {
	var out []*Violation
	var visit func(error)
	visit = func(e error) {
		if v, ok := e.(*Violation); ok {
			out = append(out, v)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				visit(inner)
			}
			return
		}
		if inner := errors.Unwrap(e); inner != nil {
			visit(inner)
		}
	}
	if err != nil {
		visit(err)
	}
	return out
}
