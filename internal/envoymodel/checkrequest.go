package envoymodel

import (
	"crypto/rand"
	"encoding/binary"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// partialBodyHeader is Envoy's internal header; a client's copy is never sent.
const partialBodyHeader = "x-envoy-auth-partial-body"

// CheckRequestOnRoute is CheckRequest for a request that matched route:
// the route's merged context extensions go into
// attributes.context_extensions, as ext_authz.cc Filter::initiateCall
// passes them to CheckRequestUtils::createHttpCheck.
func (f *Filter) CheckRequestOnRoute(r *http.Request, h *Headers, route *Route) *authv3.CheckRequest {
	req := f.CheckRequest(r, h)
	if len(route.ContextExtensions) > 0 {
		req.Attributes.ContextExtensions = maps.Clone(route.ContextExtensions)
	}
	return req
}

// CheckRequest is the CheckRequest the filter sends for r, whose header map
// is h (NewHeaders(r), before any mutation). attributes.request.http carries
// the id, method, path, host and scheme from h's pseudo-headers, size 0 (no
// body has been read when the check starts) and the protocol; its headers
// are the entries allowed_headers lets through and disallowed_headers does
// not stop — every entry, pseudo-headers included, when allowed_headers is
// unset — as a map with repeats comma-joined and non-UTF-8 bytes replaced by
// '!', or, with encode_raw_headers, as header_map entries (raw_value, one per
// entry, unsanitised). source and destination are r's peer and local
// addresses.
func (f *Filter) CheckRequest(r *http.Request, h *Headers) *authv3.CheckRequest {
	pseudo := func(key string) string { v, _ := h.Get(key); return sanitize(v) }
	req := &authv3.AttributeContext_HttpRequest{
		Id:       streamID(),
		Method:   pseudo(":method"),
		Path:     pseudo(":path"),
		Host:     pseudo(":authority"),
		Scheme:   pseudo(":scheme"),
		Protocol: protocol(r),
	}
	if f.rawHeaders {
		req.HeaderMap = &corev3.HeaderMap{}
	} else {
		req.Headers = map[string]string{}
	}
	for _, e := range h.entries {
		if e.Key == partialBodyHeader || anyMatch(f.disallowed, e.Key) ||
			f.allowed != nil && !anyMatch(f.allowed, e.Key) {
			continue
		}
		switch old, seen := req.Headers[e.Key]; {
		case f.rawHeaders:
			req.HeaderMap.Headers = append(req.HeaderMap.Headers, &corev3.HeaderValue{Key: e.Key, RawValue: []byte(e.Value)})
		case seen:
			req.Headers[e.Key] = old + "," + sanitize(e.Value)
		default:
			req.Headers[e.Key] = sanitize(e.Value)
		}
	}
	attrs := &authv3.AttributeContext{
		Source:  &authv3.AttributeContext_Peer{Address: socketAddress(r.RemoteAddr)},
		Request: &authv3.AttributeContext_Request{Time: timestamppb.Now(), Http: req},
	}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		attrs.Destination = &authv3.AttributeContext_Peer{Address: socketAddress(local.String())}
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

// protocol is Envoy's name for r's protocol.
func protocol(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "HTTP/2"
	case 3:
		return "HTTP/3"
	}
	return "HTTP/1." + strconv.Itoa(r.ProtoMinor)
}

// streamID is a random stream id in decimal, as Envoy reports its own.
func streamID() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:]), 10)
}

// socketAddress converts "ip:port" into an Envoy address; nil when it is not
// one.
func socketAddress(hostport string) *corev3.Address {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	n, err := strconv.ParseUint(port, 10, 32)
	if err != nil {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(n)}}}}
}

// sanitize is Envoy's sanitizeUtf8String: each byte that is not part of
// valid UTF-8 becomes '!'.
func sanitize(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			b.WriteByte('!')
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
