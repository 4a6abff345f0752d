package envoymodel

import (
	"net/http"
	"net/http/httptest"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The append field of an option: unset, true or false.
type appendField int

const (
	appendUnset appendField = iota
	appendTrue
	appendFalse
)

func (a appendField) String() string {
	return [...]string{"append unset", "append=true", "append=false"}[a]
}

// option is a HeaderValueOption with the given append fields.
func option(key, value string, a appendField, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	o := &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, Value: value}, AppendAction: action}
	switch a {
	case appendTrue:
		o.Append = wrapperspb.Bool(true)
	case appendFalse:
		o.Append = wrapperspb.Bool(false)
	}
	return o
}

// allow is an OK CheckResponse with these mutations.
func allow(remove []string, headers ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status:       &status.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: headers, HeadersToRemove: remove}},
	}
}

// deny is a CheckResponse with gRPC code and this denied_response.
func deny(code int32, httpStatus typev3.StatusCode, body string, headers ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &status.Status{Code: code},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: httpStatus}, Headers: headers, Body: body,
		}},
	}
}

// filter models cfg (nil: an empty config) on v.
func filter(t *testing.T, v Version, cfg *ext_authzv3.ExtAuthz) *Filter {
	t.Helper()
	if cfg == nil {
		cfg = &ext_authzv3.ExtAuthz{}
	}
	f, err := NewFilter(v, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// request is a client request to the proxy with these header lines.
func request(header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:10000/v1/messages?beta=true", nil)
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}
