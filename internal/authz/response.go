package authz

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Header names this package writes or removes (lower-case, as Envoy wants).
const (
	authorizationHeader = "authorization"
	apiKeyHeader        = "x-api-key"
	retryAfterHeader    = "retry-after"
	contentTypeHeader   = "content-type"
	jsonContentType     = "application/json"
	bearerPrefix        = "Bearer "
)

// okParts is every message of an OK response in one allocation. The protos
// are fresh fields of a fresh struct, never copied, so taking their
// addresses is sound; the response keeps the block alive.
type okParts struct {
	resp    authv3.CheckResponse
	status  status.Status
	oneof   authv3.CheckResponse_OkResponse
	ok      authv3.OkHttpResponse
	opts    [2]corev3.HeaderValueOption
	values  [2]corev3.HeaderValue
	noAdd   [2]wrapperspb.BoolValue
	optPtrs [2]*corev3.HeaderValueOption
	remove  [1]string
}

// allowResponse builds the OK response for mode: credential goes into the
// mode's header, the other credential header is removed, in WIF mode beta
// is sent as anthropic-beta, and metadata becomes the response's
// dynamic_metadata (shared, never modified). credential and beta must
// already be valid header values (validHeaderValue); this function does no
// I/O and keeps no state.
func allowResponse(mode Mode, credential, beta string, metadata *structpb.Struct) *authv3.CheckResponse {
	p := new(okParts)
	n := 0
	set := func(key, value string) { // both append fields, for the reason given at overwrite
		p.values[n] = corev3.HeaderValue{Key: key, Value: value}
		p.opts[n] = corev3.HeaderValueOption{
			Header:       &p.values[n],
			Append:       &p.noAdd[n],
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}
		p.optPtrs[n] = &p.opts[n]
		n++
	}
	// Envoy applies headers_to_remove after the headers it sets, so the
	// removed header is always the one this mode does not write.
	if mode == ModeStaticKey {
		set(apiKeyHeader, credential)
		p.remove[0] = authorizationHeader
	} else {
		set(authorizationHeader, bearerPrefix+credential)
		set(betaHeader, beta)
		p.remove[0] = apiKeyHeader
	}
	p.ok.Headers = p.optPtrs[:n]
	p.ok.HeadersToRemove = p.remove[:]
	p.oneof.OkResponse = &p.ok
	p.resp.Status = &p.status // code 0: OK
	p.resp.HttpResponse = &p.oneof
	p.resp.DynamicMetadata = metadata
	return &p.resp
}

// denial is one of the three ways Check says no.
type denial struct {
	result     Result
	code       codes.Code
	httpStatus typev3.StatusCode
	body       string        // Anthropic-shaped JSON
	retryAfter time.Duration // 503 only; rounded up to whole seconds ≥ 1
}

// denyResponse builds the denied response for d: the gRPC status code, the
// HTTP status and JSON body Envoy sends to the client, and retry-after on a
// 503. It does no I/O and keeps no state.
func denyResponse(d denial) *authv3.CheckResponse {
	headers := []*corev3.HeaderValueOption{overwrite(contentTypeHeader, jsonContentType)}
	if d.httpStatus == typev3.StatusCode_ServiceUnavailable {
		headers = append(headers, overwrite(retryAfterHeader, strconv.FormatInt(retrySeconds(d.retryAfter), 10)))
	}
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(d.code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: d.httpStatus},
			Headers: headers,
			Body:    d.body,
		}},
	}
}

// overwrite is a header mutation that replaces any existing value. Both
// fields are set on purpose. Every Envoy release (1.36 to 1.40) reads only
// `append` here, where false means overwrite. The one Envoy code that read
// append_action for these headers (#42878, on main from 2026-01-23 until its
// revert on 2026-02-12) let a present `append` win and otherwise applied
// append_action, whose default appends a second value. Setting both keeps the
// header an overwrite under every reading Envoy has shipped or merged, and
// under a future one that reads only append_action (docs/envoy-versions.md).
func overwrite(key, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: key, Value: value},
		Append:       wrapperspb.Bool(false),
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// maxRetryAfter bounds what a Credentials implementation can ask clients to
// wait; the refresh policy never backs off longer than a minute.
const maxRetryAfter = time.Hour

// retrySeconds rounds d up to whole seconds, at least 1, at most an hour.
func retrySeconds(d time.Duration) int64 {
	d = min(max(d, time.Second), maxRetryAfter)
	return int64((d + time.Second - 1) / time.Second)
}

// The denials whose bodies never change, built once.
var (
	invalidDenial = denial{
		result:     ResultInvalid,
		code:       codes.InvalidArgument,
		httpStatus: typev3.StatusCode_BadRequest,
		body:       errorBody("invalid_request_error", "the ext_authz check request carries no HTTP request attributes"),
	}
	unavailableBody = errorBody("api_error", "credential unavailable; retry shortly")
	unusableBody    = errorBody("api_error", "the proxy's credential cannot be sent as a header; retry later")
	noHostBody      = errorBody("permission_error", "the request names no host, and only EXTAUTHZ_ALLOWED_HOSTS may receive the credential")
	// badAuthorityDenial is the 403 for an authority that is not exactly
	// host or host:port. It does not repeat the authority: it may carry
	// userinfo.
	badAuthorityDenial = denial{
		result:     ResultForbidden,
		code:       codes.PermissionDenied,
		httpStatus: typev3.StatusCode_Forbidden,
		body:       errorBody("permission_error", "the request's authority is not a host or host:port, and only EXTAUTHZ_ALLOWED_HOSTS may receive the credential"),
	}
)

// unavailableDenial is the 503 for "no servable credential".
func unavailableDenial(retryAfter time.Duration, body string) denial {
	return denial{
		result:     ResultUnavailable,
		code:       codes.Unavailable,
		httpStatus: typev3.StatusCode_ServiceUnavailable,
		body:       body,
		retryAfter: retryAfter,
	}
}

// maxHostInBody caps how much of a client-chosen host the 403 body repeats.
const maxHostInBody = 255

// maxNameInBody caps how much of a credential name or principal a 403 body
// or log line repeats.
const maxNameInBody = 64

// noCredentialDenial is the 403 for a request that selects none of several
// credentials.
var noCredentialDenial = denial{
	result:     ResultForbidden,
	code:       codes.PermissionDenied,
	httpStatus: typev3.StatusCode_Forbidden,
	body: errorBody("permission_error", "no credential is configured for this request: the route sets no "+
		"context_extensions credential and no EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL rule matches its principal"),
}

// unknownCredentialDenial is the 403 for a route whose context_extensions
// name a credential extauthz does not have.
func unknownCredentialDenial(name string) denial {
	d := noCredentialDenial
	d.body = errorBody("permission_error", "credential "+strconv.Quote(truncate(name, maxNameInBody))+
		" is not configured (EXTAUTHZ_CREDENTIALS)")
	return d
}

// forbiddenDenial is the 403 for a host outside EXTAUTHZ_ALLOWED_HOSTS.
func forbiddenDenial(host string) denial {
	body := noHostBody
	if host != "" {
		body = errorBody("permission_error", "host "+strconv.Quote(truncate(host, maxHostInBody))+" is not in EXTAUTHZ_ALLOWED_HOSTS and may not receive the credential")
	}
	return denial{
		result:     ResultForbidden,
		code:       codes.PermissionDenied,
		httpStatus: typev3.StatusCode_Forbidden,
		body:       body,
	}
}

// errorBody is Anthropic's error shape:
// {"type":"error","error":{"type":kind,"message":message}}.
func errorBody(kind, message string) string {
	type apiError struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	b, err := json.Marshal(struct {
		Type  string   `json:"type"`
		Error apiError `json:"error"`
	}{"error", apiError{kind, message}})
	if err != nil {
		panic("authz: marshalling an error body: " + err.Error()) // two strings cannot fail
	}
	return string(b)
}

// validHeaderValue reports whether s can be sent as a header value: not empty
// and headerText.
func validHeaderValue(s string) bool { return s != "" && headerText(s) }

// headerText reports whether s is valid UTF-8 (the proto field is a string)
// without control characters — CR, LF and NUL above all, tab too: no
// credential or beta flag contains one.
func headerText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}
