package envoymodel

import (
	"net/http"
	"slices"
	"strings"
)

// Entry is one header of a Headers: a lower-case key and its value.
type Entry struct {
	Key, Value string
}

// Headers is Envoy's request header map: entries in order, keys lower-case,
// the pseudo-headers first. Envoy keeps an "inline" header (the
// pseudo-headers, authorization and a few others) as one entry and
// comma-joins a second value into it; any other header that is repeated
// becomes a second entry. The zero value is empty.
type Headers struct {
	entries []Entry
}

// inlineHeaders are the request headers the model treats as Envoy's inline
// (O(1)) headers, whose repeats are comma-joined into one entry.
var inlineHeaders = map[string]bool{
	":authority": true, ":method": true, ":path": true, ":scheme": true, ":protocol": true,
	"authorization": true, "content-length": true, "content-type": true, "user-agent": true,
	"connection": true, "upgrade": true, "te": true, "transfer-encoding": true, "expect": true,
	"x-request-id": true, "x-forwarded-for": true, "x-forwarded-proto": true,
}

// NewHeaders is the header map Envoy's HTTP codec builds for r:
// ":authority" (from Host), ":method", ":path" (path and query),
// ":scheme", then r's headers with lower-cased keys, in key order (Go does
// not keep the wire order), each value added as Envoy adds a repeat.
func NewHeaders(r *http.Request) *Headers {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h := &Headers{}
	h.add(":authority", r.Host)
	h.add(":method", r.Method)
	h.add(":path", r.URL.RequestURI()) // an absolute-form target keeps only its path and query
	h.add(":scheme", scheme)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			h.add(strings.ToLower(k), v)
		}
	}
	return h
}

// Entries returns a copy of the entries, in order.
func (h *Headers) Entries() []Entry { return slices.Clone(h.entries) }

// Values returns the value of every entry with key (lower-case), in order.
func (h *Headers) Values(key string) []string {
	var out []string
	for _, e := range h.entries {
		if e.Key == key {
			out = append(out, e.Value)
		}
	}
	return out
}

// Get returns the first value of key and whether key is present.
func (h *Headers) Get(key string) (string, bool) {
	for _, e := range h.entries {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// Clone returns an independent copy.
func (h *Headers) Clone() *Headers { return &Headers{entries: slices.Clone(h.entries)} }

// HTTPHeader returns the regular (non-pseudo) headers, for forwarding the
// request upstream; Host is the ":authority" value (Get).
func (h *Headers) HTTPHeader() http.Header {
	out := http.Header{}
	for _, e := range h.entries {
		if !strings.HasPrefix(e.Key, ":") {
			out[http.CanonicalHeaderKey(e.Key)] = append(out[http.CanonicalHeaderKey(e.Key)], e.Value)
		}
	}
	return out
}

// RewriteHost is the router's host_rewrite_literal: it sets ":authority" in
// the request's own header map (router.cc Filter::decodeHeaders →
// RouteEntryImplBase::finalizeRequestHeaders → finalizeHostHeader), after
// ext_authz has run, so the access log shows the rewritten host. It adds no
// x-envoy-original-host, as with suppress_envoy_headers (the project's
// configs).
func (h *Headers) RewriteHost(host string) {
	if i := h.index(":authority"); i >= 0 {
		h.entries[i].Value = host
	}
}

// index is the position of key's first entry, or -1.
func (h *Headers) index(key string) int {
	return slices.IndexFunc(h.entries, func(e Entry) bool { return e.Key == key })
}

// add is Envoy's addCopy: a repeat of an inline header is comma-joined into
// its entry, any other value becomes a new entry at the end.
func (h *Headers) add(key, value string) {
	if i := h.index(key); i >= 0 && inlineHeaders[key] {
		h.entries[i].Value += "," + value
		return
	}
	h.entries = append(h.entries, Entry{Key: key, Value: value})
}

// set is Envoy's setCopy: every entry of key removed, then value added
// (at the end).
func (h *Headers) set(key, value string) {
	h.remove(key)
	h.add(key, value)
}

// appendCopy is Envoy's appendCopy: value joined to the first entry of key
// (with "; " for cookie, "," otherwise), or added when key is absent.
func (h *Headers) appendCopy(key, value string) {
	i := h.index(key)
	if i < 0 {
		h.add(key, value)
		return
	}
	delimiter := ","
	if key == "cookie" {
		delimiter = "; "
	}
	h.entries[i].Value += delimiter + value
}

// remove drops every entry of key.
func (h *Headers) remove(key string) {
	h.entries = slices.DeleteFunc(h.entries, func(e Entry) bool { return e.Key == key })
}
