package envoymodel

import (
	"fmt"
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Outcome is what Envoy does with a request once the check is over.
type Outcome struct {
	// Allowed is true when the request goes on upstream, with the headers
	// Apply mutated.
	Allowed bool
	// Status, Header and Body are the local reply the client gets when the
	// request is not Allowed.
	Status int
	Header http.Header
	Body   string
	// Ignored describes each mutation the model skipped: an untouchable
	// header (pseudo-headers, host), an invalid append_action, or an invalid
	// header name in headers_to_remove under validate_mutations.
	Ignored []string
}

// op is how one HeaderValueOption is applied.
type op int

const (
	opSet               op = iota // setCopy: OVERWRITE_IF_EXISTS_OR_ADD, or append false/unset up to 1.36
	opAdd                         // addCopy: APPEND_IF_EXISTS_OR_ADD
	opAppendExisting              // appendCopy when present: append true up to 1.36
	opAddIfAbsent                 // ADD_IF_ABSENT
	opOverwriteIfExists           // OVERWRITE_IF_EXISTS
	opInvalid                     // an append_action Envoy does not know
)

// opOrder is the order the filter applies its lists in: all sets, then all
// adds, then appends, then the conditional ones.
var opOrder = []op{opSet, opAdd, opAppendExisting, opAddIfAbsent, opOverwriteIfExists}

// opFor is how version v applies o.
func (v Version) opFor(o *corev3.HeaderValueOption) op {
	appendField := o.GetAppend()
	switch {
	case v == Envoy136:
		if appendField.GetValue() {
			return opAppendExisting
		}
		return opSet
	case v == EnvoyCurrent && appendField != nil:
		if appendField.GetValue() {
			return opAdd
		}
		return opSet
	}
	switch o.GetAppendAction() {
	case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		return opAdd
	case corev3.HeaderValueOption_ADD_IF_ABSENT:
		return opAddIfAbsent
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
		return opSet
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		return opOverwriteIfExists
	}
	return opInvalid
}

// untouchable reports whether key (lower-case) may never be mutated.
func untouchable(key string) bool { return strings.HasPrefix(key, ":") || key == "host" }

// Apply does with resp what the filter does: on OK (status code 0) it
// applies ok_response.headers to h — grouped in opOrder, each entry's key
// lower-cased and its value taken from `value` — then headers_to_remove, and
// returns Allowed. With validate_mutations, an invalid header name or value
// (or an invalid append_action) rejects the request with a local 500 instead,
// and h is left as it was. Any other status is a denial: the local reply is
// denied_response's status (403 when unset), headers and body. From 1.37 on,
// error_response is an error (status_on_error unless it carries a status,
// failure_mode_allow honoured); Envoy136 does not know that field and denies
// with a bare 403.
func (f *Filter) Apply(h *Headers, resp *authv3.CheckResponse) Outcome {
	if resp.GetStatus().GetCode() != 0 {
		return f.denied(h, resp)
	}
	var out Outcome
	next := h.Clone()
	groups := map[op][]*corev3.HeaderValueOption{}
	for _, o := range resp.GetOkResponse().GetHeaders() {
		kind := f.version.opFor(o)
		if kind == opInvalid {
			out.Ignored = append(out.Ignored, fmt.Sprintf("%q: append_action %d is not a HeaderAppendAction", o.GetHeader().GetKey(), o.GetAppendAction()))
			if f.validate {
				return f.rejected(out.Ignored)
			}
			continue
		}
		groups[kind] = append(groups[kind], o)
	}
	for _, kind := range opOrder {
		for _, o := range groups[kind] {
			key, value := o.GetHeader().GetKey(), o.GetHeader().GetValue()
			if f.validate && (!validName(key) || !validValue(value)) {
				return f.rejected(append(out.Ignored, fmt.Sprintf("%q: invalid header name or value", key)))
			}
			key = strings.ToLower(key)
			if untouchable(key) {
				out.Ignored = append(out.Ignored, fmt.Sprintf("%q: a pseudo-header or host cannot be mutated", key))
				continue
			}
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

// apply performs one header operation on h.
func apply(h *Headers, kind op, key, value string) {
	_, present := h.Get(key)
	switch {
	case kind == opSet, kind == opOverwriteIfExists && present:
		h.set(key, value)
	case kind == opAdd, kind == opAddIfAbsent && !present:
		h.add(key, value)
	case kind == opAppendExisting:
		h.appendExisting(key, value)
	}
}

// denied is the outcome of a non-OK CheckResponse for the request whose
// headers are h.
func (f *Filter) denied(h *Headers, resp *authv3.CheckResponse) Outcome {
	reply := resp.GetDeniedResponse()
	status := int(reply.GetStatus().GetCode())
	if errReply := resp.GetErrorResponse(); errReply != nil {
		if f.version == Envoy136 {
			return localReply(http.StatusForbidden, http.Header{}, "") // field 5 is unknown there
		}
		if f.failOpen {
			return f.OnError(h)
		}
		reply, status = errReply, int(errReply.GetStatus().GetCode())
		if status == 0 {
			status = f.statusOnError
		}
	}
	if status == 0 {
		status = http.StatusForbidden
	}
	// The local reply starts empty; the response's header options apply to it
	// as they would to a request.
	local := &Headers{}
	for _, o := range reply.GetHeaders() {
		if kind := f.version.opFor(o); kind != opInvalid {
			apply(local, kind, strings.ToLower(o.GetHeader().GetKey()), o.GetHeader().GetValue())
		}
	}
	body := reply.GetBody()
	if f.maxDeniedBodyLen > 0 && len(body) > f.maxDeniedBodyLen {
		body = body[:f.maxDeniedBodyLen]
	}
	return localReply(status, local.HTTPHeader(), body)
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
// (403 when unset).
func (f *Filter) OnError(h *Headers) Outcome {
	if !f.failOpen {
		return localReply(f.statusOnError, http.Header{}, "")
	}
	if f.failOpenHeader {
		h.set(failOpenHeader, "true")
	}
	return Outcome{Allowed: true}
}

// rejected is the local 500 Envoy sends when validate_mutations finds an
// invalid mutation.
func (f *Filter) rejected(ignored []string) Outcome {
	out := localReply(http.StatusInternalServerError, http.Header{}, "")
	out.Ignored = ignored
	return out
}

// localReply is a reply Envoy writes itself; a body without a content type
// is text/plain.
func localReply(status int, header http.Header, body string) Outcome {
	if body != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "text/plain")
	}
	return Outcome{Status: status, Header: header, Body: body}
}

// validName is nghttp2's header name check, which validate_mutations uses:
// an optional leading ':' then one or more lower-case token characters.
func validName(name string) bool {
	name = strings.TrimPrefix(name, ":")
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validValue is nghttp2's header value check: no NUL, CR or LF.
func validValue(v string) bool { return !strings.ContainsAny(v, "\x00\r\n") }
