package authz

import (
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// responseProblems lists every way resp breaks the rules that hold for any
// answer Check gives, whatever the request: a known status code with the
// matching oneof, lower-case keys, sendable values, append=false plus
// OVERWRITE_IF_EXISTS_OR_ADD everywhere, no header both set and removed, and
// a message that marshals and passes the generated validation.
func responseProblems(resp *authv3.CheckResponse) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if resp == nil {
		return []string{"nil response"}
	}
	code := codes.Code(resp.GetStatus().GetCode())
	var headers []*corev3.HeaderValueOption
	switch code {
	case codes.OK:
		if resp.GetOkResponse() == nil {
			bad("code 0 without ok_response")
		}
		headers = resp.GetOkResponse().GetHeaders()
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unavailable:
		d := resp.GetDeniedResponse()
		if d == nil {
			bad("code %d without denied_response", code)
		}
		want := map[codes.Code]int32{codes.InvalidArgument: 400, codes.PermissionDenied: 403, codes.Unavailable: 503}[code]
		if got := int32(d.GetStatus().GetCode()); got != want {
			bad("code %d with HTTP status %d, want %d", code, got, want)
		}
		headers = d.GetHeaders()
	default:
		bad("status code %d is not one of 0, 3, 7, 14", code)
	}
	set := map[string]bool{}
	for _, h := range headers {
		key := h.GetHeader().GetKey()
		if key != strings.ToLower(key) || key == "" {
			bad("header key %q is not lower-case", key)
		}
		if set[key] {
			bad("header %q set twice", key)
		}
		set[key] = true
		if !validHeaderValue(h.GetHeader().GetValue()) || len(h.GetHeader().GetRawValue()) > 0 {
			bad("header %q has an unsendable value", key)
		}
		if h.GetAppend() == nil || h.GetAppend().GetValue() {
			bad("header %q: append is not explicitly false", key)
		}
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			bad("header %q: append_action %v", key, h.GetAppendAction())
		}
	}
	for _, r := range resp.GetOkResponse().GetHeadersToRemove() {
		if set[r] {
			bad("header %q both set and removed", r)
		}
	}
	if _, err := proto.Marshal(resp); err != nil {
		bad("does not marshal: %v", err)
	}
	if err := resp.ValidateAll(); err != nil {
		bad("fails generated validation: %v", err)
	}
	return problems
}
