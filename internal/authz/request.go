package authz

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// betaHeader is the header Anthropic reads beta flags from.
const betaHeader = "anthropic-beta"

// request is what decide reads of a CheckRequest, however it was decoded:
// typedRequest over the generated message, *wireRequest over the fast
// path's scan of its bytes. The strings may alias a buffer that is reused
// once the Check returns; copy what must outlive it.
type request interface {
	hasHTTP() bool                       // attributes.request.http is present
	id() string                          // attributes.request.http.id
	authority() string                   // requestAuthority
	principal() string                   // attributes.source.principal
	extension(key string) (string, bool) // attributes.context_extensions[key]
}

// typedRequest is a request over the generated message.
type typedRequest struct {
	attrs *authv3.AttributeContext
}

func (t typedRequest) http() *authv3.AttributeContext_HttpRequest {
	return t.attrs.GetRequest().GetHttp()
}

func (t typedRequest) hasHTTP() bool     { return t.http() != nil }
func (t typedRequest) id() string        { return t.http().GetId() }
func (t typedRequest) authority() string { return requestAuthority(t.http()) }
func (t typedRequest) principal() string { return t.attrs.GetSource().GetPrincipal() }

func (t typedRequest) extension(key string) (string, bool) {
	v, ok := t.attrs.GetContextExtensions()[key]
	return v, ok
}

// requestBeta merges the client's anthropic-beta values (see mergeBeta) from
// headers (Envoy comma-merges repeats there, keys lower-case) and then from
// header_map (encode_raw_headers: one entry per repeat, raw_value bytes).
func requestBeta(http *authv3.AttributeContext_HttpRequest) string {
	var small [smallBetas]string
	b := betas{items: small[:0]}.add(http.GetHeaders()[betaHeader])
	for _, h := range http.GetHeaderMap().GetHeaders() {
		if strings.EqualFold(h.GetKey(), betaHeader) {
			b = b.add(headerValue(h))
		}
	}
	return b.result()
}

// headerValue is a header_map entry's value: raw_value when set (Envoy's
// encode_raw_headers), else value.
func headerValue(h *corev3.HeaderValue) string {
	if raw := h.GetRawValue(); len(raw) > 0 {
		return string(raw)
	}
	return h.GetValue()
}
