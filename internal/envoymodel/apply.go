package envoymodel

import (
	"fmt"
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// MetadataNamespace is where the filter stores CheckResponse.dynamic_metadata
// in the request's dynamic metadata: the canonical filter name, a literal in
// ext_authz.cc Filter::onComplete in every version read (1.36.0 to main of
// 2026-07-22), whatever name the filter is configured under.
const MetadataNamespace = "envoy.filters.http.ext_authz"

// The response_code_details Envoy records for the replies the model knows
// (StreamInfo::ResponseCodeDetails in envoy/stream_info/stream_info.h;
// ExtAuthz::ResponseCodeDetails in filters/common/ext_authz/ext_authz.h).
const (
	// DetailsViaUpstream: the router relayed the upstream's response.
	DetailsViaUpstream = "via_upstream"
	// DetailsDenied: ext_authz's local reply to a denial.
	DetailsDenied = "ext_authz_denied"
	// DetailsError: ext_authz's local reply to a failed check or an
	// error_response.
	DetailsError = "ext_authz_error"
	// DetailsInvalid: ext_authz's 500 for a response it refused to apply.
	DetailsInvalid = "ext_authz_invalid"
)

// Outcome is what Envoy does with a request once the check is over.
type Outcome struct {
	// Allowed is true when the request goes on upstream, with the headers
	// Apply mutated.
	Allowed bool
	// Status, Header and Body are the local reply the client gets when the
	// request is not Allowed, and Details its response_code_details.
	Status  int
	Header  http.Header
	Body    string
	Details string
	// DynamicMetadata is what the filter stored in the request's dynamic
	// metadata under MetadataNamespace: the CheckResponse's dynamic_metadata
	// (the deprecated OkHttpResponse.dynamic_metadata overrides it), whatever
	// the status; nil when it is empty, when enable_dynamic_metadata_ingestion
	// is false, or when the check failed. On an OK response Envoy also adds
	// ext_authz_duration, the call's milliseconds, which only the caller
	// knows: StreamInfo.RecordCheck adds it.
	DynamicMetadata *structpb.Struct
	// Ignored describes each mutation Envoy skipped or did not apply as
	// written: an append=true header of a denial, an invalid append_action
	// (EnvoyDev42878), a header the model does not apply (pseudo-headers,
	// host, an empty name), or an invalid name in headers_to_remove under
	// validate_mutations.
	Ignored []string

	okStatus bool // status code 0: Envoy adds ext_authz_duration
}

// op is how one HeaderValueOption is applied.
type op int

const (
	opSet               op = iota // setCopy: every entry removed, one added
	opAdd                         // addCopy: one more entry (comma-joined into an inline header)
	opAppendExisting              // appendCopy if the header is present, else nothing
	opAppendOrAdd                 // appendCopy: comma-joined when present, added when absent
	opAddIfAbsent                 // addCopy only when absent
	opOverwriteIfExists           // setCopy only when present
	opDrop                        // not applied
)

// requestOp is how v applies o to the request headers of an OK response,
// and whether #42878 flags its append_action as invalid. Every release
// reads `append` alone (ext_authz_grpc_impl.cc copyHeaderFieldIntoResponse):
// true appends to a present header, false or unset sets.
func (v Version) requestOp(o *corev3.HeaderValueOption) (kind op, invalid bool) {
	if a := o.GetAppend(); a != nil || !v.readsAppendAction() {
		if a.GetValue() {
			return opAppendExisting, false
		}
		return opSet, false
	}
	return actionOp(o.GetAppendAction())
}

// localOp is how v applies o to the local reply of a denial (or, with
// isError, of an error_response). Releases set every append=false or unset
// header, drop the append=true ones of a denial and add those of an error
// (ext_authz.cc onComplete, addErrorResponseHeaders); #42878 applied the
// same actions as on requests, except that `append: true` adds when absent.
func (v Version) localOp(o *corev3.HeaderValueOption, isError bool) (kind op, invalid bool) {
	a := o.GetAppend()
	switch {
	case v.readsAppendAction() && a == nil:
		return actionOp(o.GetAppendAction())
	case v.readsAppendAction() && a.GetValue():
		return opAppendOrAdd, false
	case a.GetValue() && isError:
		return opAdd, false
	case a.GetValue():
		return opDrop, false
	}
	return opSet, false
}

// actionOp is how #42878 applied an append_action when `append` was absent;
// it flagged an unknown action and applied it as a set.
func actionOp(a corev3.HeaderValueOption_HeaderAppendAction) (op, bool) {
	switch a {
	case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		return opAdd, false
	case corev3.HeaderValueOption_ADD_IF_ABSENT:
		return opAddIfAbsent, false
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
		return opSet, false
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		return opOverwriteIfExists, false
	}
	return opSet, true
}

// untouchable reports whether key (lower-case) is one the model never
// mutates.
func untouchable(key string) bool { return strings.HasPrefix(key, ":") || key == "host" }

// Apply does with resp what the filter's onComplete does.
//
// On OK (status code 0) it applies ok_response.headers to h — on a release,
// every set before every append, each key lower-cased; on EnvoyDev42878, in
// order — then headers_to_remove, and returns Allowed. With
// validate_mutations an invalid header name or value rejects the request
// with a local 500 instead, and h is left as it was.
//
// Any other status is a denial: the local reply is denied_response's status
// (403 when unset), headers and body. From 1.37 on, error_response is an
// error: status_on_error unless it carries a status, failure_mode_allow
// honoured, and under validate_mutations an invalid header makes Envoy drop
// the custom status, headers and body. Envoy136 does not know that field and
// denies with a bare 403.
func (f *Filter) Apply(h *Headers, resp *authv3.CheckResponse) Outcome {
	var out Outcome
	if f.sawInvalidAppendAction(resp, &out) && f.validate {
		return f.rejected(out.Ignored) // before the metadata is stored
	}
	out.DynamicMetadata = f.storedMetadata(resp)
	if resp.GetStatus().GetCode() != 0 {
		return f.notOK(h, resp, out)
	}
	out.okStatus = true
	next := h.Clone()
	options := resp.GetOkResponse().GetHeaders()
	if !f.version.readsAppendAction() {
		options = setsFirst(f.version, options)
	}
	for _, o := range options {
		kind, _ := f.version.requestOp(o)
		key, value := o.GetHeader().GetKey(), o.GetHeader().GetValue()
		if f.validate && (!validName(key) || !validValue(value)) {
			return f.rejectedWith(out, fmt.Sprintf("%q: invalid header name or value", key))
		}
		key = strings.ToLower(key)
		switch {
		case key == "":
			out.Ignored = append(out.Ignored, "a header with an empty name")
		case untouchable(key):
			out.Ignored = append(out.Ignored, fmt.Sprintf("%q: a pseudo-header or host is not mutated by the model", key))
		default:
			apply(next, kind, key, value)
		}
	}
	for _, key := range resp.GetOkResponse().GetHeadersToRemove() {
		lower := strings.ToLower(key)
		switch {
		case f.validate && !validName(key):
			out.Ignored = append(out.Ignored, fmt.Sprintf("%q: invalid header name to remove", key))
		case untouchable(lower):
			out.Ignored = append(out.Ignored, fmt.Sprintf("%q: a pseudo-header or host cannot be removed", key))
		default:
			next.remove(lower)
		}
	}
	*h = *next
	out.Allowed = true
	return out
}

// setsFirst orders a release's request mutations as its filter applies
// them: headers_to_set, then headers_to_append.
func setsFirst(v Version, options []*corev3.HeaderValueOption) []*corev3.HeaderValueOption {
	var sets, appends []*corev3.HeaderValueOption
	for _, o := range options {
		if kind, _ := v.requestOp(o); kind == opSet {
			sets = append(sets, o)
		} else {
			appends = append(appends, o)
		}
	}
	return append(sets, appends...)
}

// sawInvalidAppendAction reports whether resp carries an append_action the
// version flags as invalid (GrpcClientImpl::onSuccess sets
// saw_invalid_append_actions), noting each in out.Ignored. Every release
// (since #40650) flags only OkHttpResponse.response_headers_to_add entries
// without `append`; #42878 also flagged request and local-reply headers.
func (f *Filter) sawInvalidAppendAction(resp *authv3.CheckResponse, out *Outcome) bool {
	var lists [][]*corev3.HeaderValueOption
	switch {
	case resp.GetStatus().GetCode() == 0:
		lists = append(lists, resp.GetOkResponse().GetResponseHeadersToAdd())
		if f.version.readsAppendAction() {
			lists = append(lists, resp.GetOkResponse().GetHeaders())
		}
	case !f.version.readsAppendAction():
	case resp.GetErrorResponse() != nil:
		lists = append(lists, resp.GetErrorResponse().GetHeaders())
	default:
		lists = append(lists, resp.GetDeniedResponse().GetHeaders())
	}
	saw := false
	for _, list := range lists {
		for _, o := range list {
			if o.GetAppend() != nil {
				continue
			}
			if _, invalid := actionOp(o.GetAppendAction()); invalid {
				saw = true
				out.Ignored = append(out.Ignored, fmt.Sprintf("%q: append_action %d is not a HeaderAppendAction", o.GetHeader().GetKey(), o.GetAppendAction()))
			}
		}
	}
	return saw
}

// storedMetadata is what onComplete stores under MetadataNamespace for resp.
func (f *Filter) storedMetadata(resp *authv3.CheckResponse) *structpb.Struct {
	md := resp.GetDynamicMetadata()
	if ok := resp.GetOkResponse(); ok.GetDynamicMetadata() != nil {
		md = ok.GetDynamicMetadata()
	}
	if len(md.GetFields()) == 0 || !f.ingestMetadata {
		return nil
	}
	return proto.Clone(md).(*structpb.Struct)
}

// apply performs one header operation on h.
func apply(h *Headers, kind op, key, value string) {
	_, present := h.Get(key)
	switch {
	case kind == opSet, kind == opOverwriteIfExists && present:
		h.set(key, value)
	case kind == opAdd, kind == opAddIfAbsent && !present:
		h.add(key, value)
	case kind == opAppendExisting && present, kind == opAppendOrAdd:
		h.appendCopy(key, value)
	}
}

// notOK is the outcome of a CheckResponse whose status is not OK, for the
// request whose headers are h; out carries what Apply found so far.
func (f *Filter) notOK(h *Headers, resp *authv3.CheckResponse, out Outcome) Outcome {
	reply := resp.GetDeniedResponse()
	isError := resp.GetErrorResponse() != nil && f.version.knowsErrorResponse()
	if isError {
		reply = resp.GetErrorResponse()
	}
	status, body, options := int(reply.GetStatus().GetCode()), reply.GetBody(), reply.GetHeaders()
	if f.validate {
		for _, o := range options {
			kind, _ := f.version.localOp(o, isError)
			if kind == opDrop || validName(o.GetHeader().GetKey()) && validValue(o.GetHeader().GetValue()) {
				continue
			}
			if !isError {
				return f.rejectedWith(out, fmt.Sprintf("%q: invalid header name or value", o.GetHeader().GetKey()))
			}
			// validateAndClearInvalidErrorResponseAttributes: the generic error.
			out.Ignored = append(out.Ignored, fmt.Sprintf("%q: invalid header name or value; error_response dropped", o.GetHeader().GetKey()))
			options, body, status = nil, "", 0
			break
		}
	}
	if f.maxDeniedBodyLen > 0 && len(body) > f.maxDeniedBodyLen {
		body = body[:f.maxDeniedBodyLen]
	}
	details := DetailsDenied
	if isError {
		if f.failOpen {
			return f.failedOpen(h, out)
		}
		details = DetailsError
		if status == 0 {
			status = f.statusOnError
		}
	}
	if status == 0 {
		status = http.StatusForbidden
	}
	// The local reply's header map holds only :status when the filter's
	// callback runs; a release adds every set header (repeats kept), then an
	// error's appended ones.
	local := &Headers{}
	if !f.version.readsAppendAction() {
		options = setsFirst(f.version, options)
	}
	for _, o := range options {
		kind, _ := f.version.localOp(o, isError)
		key := strings.ToLower(o.GetHeader().GetKey())
		if kind == opDrop {
			out.Ignored = append(out.Ignored, fmt.Sprintf("%q: append=true headers are dropped from a denial's reply", key))
			continue
		}
		if kind == opSet && !f.version.readsAppendAction() {
			kind = opAdd // remove every key, then add each: repeats are kept
		}
		apply(local, kind, key, o.GetHeader().GetValue())
	}
	sent := localReply(status, local.HTTPHeader(), body, details)
	sent.Ignored, sent.DynamicMetadata = out.Ignored, out.DynamicMetadata
	return sent
}

// failOpenHeader is what failure_mode_allow_header_add adds to a request let
// through by failure_mode_allow.
const failOpenHeader = "x-envoy-auth-failure-mode-allowed"

// OnError is the outcome of a failed Check call (transport error, timeout,
// or a gRPC error status) for the request whose headers are h: with
// failure_mode_allow the request goes on unchanged — the client's own
// credential headers included, which is why the project's configs never set
// it — plus x-envoy-auth-failure-mode-allowed with
// failure_mode_allow_header_add; otherwise the client gets status_on_error
// (403 when unset). A failed call stores no dynamic metadata.
func (f *Filter) OnError(h *Headers) Outcome {
	if f.failOpen {
		return f.failedOpen(h, Outcome{})
	}
	return localReply(f.statusOnError, http.Header{}, "", DetailsError)
}

// failedOpen lets the request whose headers are h through after an error.
func (f *Filter) failedOpen(h *Headers, out Outcome) Outcome {
	if f.failOpenHeader {
		h.add(failOpenHeader, "true") // addReferenceKey: a client's copy stays
	}
	out.Allowed = true
	return out
}

// rejected is the local 500 Envoy sends when validate_mutations finds an
// invalid mutation (Filter::rejectResponse).
func (f *Filter) rejected(ignored []string) Outcome {
	out := localReply(http.StatusInternalServerError, http.Header{}, "", DetailsInvalid)
	out.Ignored = ignored
	return out
}

// rejectedWith is rejected after the metadata was stored, noting why.
func (f *Filter) rejectedWith(out Outcome, why string) Outcome {
	r := f.rejected(append(out.Ignored, why))
	r.DynamicMetadata, r.okStatus = out.DynamicMetadata, out.okStatus
	return r
}

// localReply is a reply Envoy writes itself (Http::Utility::prepareLocalReply,
// no local_reply_config): a body without a content type is text/plain; an
// empty body loses any content type.
func localReply(status int, header http.Header, body, details string) Outcome {
	switch {
	case body == "":
		header.Del("Content-Type")
	case header.Get("Content-Type") == "":
		header.Set("Content-Type", "text/plain")
	}
	return Outcome{Status: status, Header: header, Body: body, Details: details}
}

// validName is HeaderUtility::headerNameIsValid, which validate_mutations
// uses: an optional leading ':' that must be followed by something, then RFC
// 9110 token characters, upper case included. An empty name passes.
func validName(name string) bool {
	if rest, ok := strings.CutPrefix(name, ":"); ok {
		if rest == "" {
			return false
		}
		name = rest
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validValue is HeaderUtility::headerValueIsValid: quiche's HTTP/2 value
// check with obs-text allowed, i.e. only HTAB, SP, 0x21–0x7E and 0x80–0xFF.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
