package authz

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// betaHeader is the header Anthropic reads beta flags from.
const betaHeader = "anthropic-beta"

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
