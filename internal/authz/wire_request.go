package authz

import (
	"strings"
	"sync"
	"unsafe"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// wireRequest is a CheckRequest as the fast path receives it: the message
// bytes, held by reference from grpc's receive buffer (no copy), and the
// wireView of what Check reads — or, when the scan was not sure, the request
// decoded in full.
//
// Its strings alias the held bytes (one unsafe.String over them, in
// unmarshal): they are valid until release, which returns the buffer to
// grpc's pool. Nothing derived from them may outlive the Check: responses are
// encoded or built from fresh strings, and log lines copy what they keep
// (strings.Clone in decide).
type wireRequest struct {
	buf  mem.Buffer
	msg  string
	view wireView
	full *authv3.CheckRequest
}

// wireRequests recycles wireRequests between RPCs, so the fast path
// allocates nothing per request.
var wireRequests = sync.Pool{New: func() any { return new(wireRequest) }}

// unmarshal takes a reference to data and scans it. When the scan is not
// sure, it decodes in full with proto.Unmarshal, so a request is answered —
// or refused, with proto's own error — exactly as by grpc's proto codec.
func (r *wireRequest) unmarshal(data mem.BufferSlice) error {
	r.buf = data.MaterializeToBuffer(mem.DefaultBufferPool()) // one buffer: a reference, not a copy
	b := r.buf.ReadOnlyData()
	r.msg = unsafe.String(unsafe.SliceData(b), len(b))
	if r.view.scan(b) {
		return nil
	}
	full := new(authv3.CheckRequest)
	if err := proto.Unmarshal(b, full); err != nil {
		return err
	}
	r.full = full
	return nil
}

// release drops the reference to the bytes; r may then be reused.
func (r *wireRequest) release() {
	if r.buf != nil {
		r.buf.Free()
	}
	*r = wireRequest{}
}

func (r *wireRequest) str(s span) string { return r.msg[s.start:s.end] }

func (r *wireRequest) hasHTTP() bool { return r.view.http }

func (r *wireRequest) id() string { return r.str(r.view.id) }

// authority is requestAuthority over the view.
func (r *wireRequest) authority() string {
	if a := r.str(r.view.authority); a != "" {
		return a
	}
	if a := r.str(r.view.mapAuthority); a != "" {
		return a
	}
	return r.str(r.view.host)
}

// principal is attributes.source.principal.
func (r *wireRequest) principal() string { return r.str(r.view.principal) }

// extension is context_extensions[key] as proto decodes the map: the last
// entry of a key wins.
func (r *wireRequest) extension(key string) (string, bool) {
	for i := r.view.nExtensions - 1; i >= 0; i-- {
		if e := r.view.extensions[i]; r.str(e[0]) == key {
			return r.str(e[1]), true
		}
	}
	return "", false
}

// appendBeta appends to dst the anthropic-beta value to send: requestBeta
// over the view, without allocating for up to smallBetas items when dst has
// room.
func (r *wireRequest) appendBeta(dst []byte) []byte {
	var small [smallBetas]string
	b := betas{items: small[:0]}.add(r.str(r.view.beta))
	for _, v := range r.view.mapBetas[:r.view.nMapBetas] {
		b = b.add(r.str(v))
	}
	return b.appendResult(dst)
}

// contextExtensions returns context_extensions as proto decodes the map (the
// last entry of a key wins), for the differential tests that hold the scan
// to proto's decoding. It copies: the map may outlive the request.
func (r *wireRequest) contextExtensions() map[string]string {
	if r.view.nExtensions == 0 {
		return nil
	}
	m := make(map[string]string, r.view.nExtensions)
	for _, e := range r.view.extensions[:r.view.nExtensions] {
		m[strings.Clone(r.str(e[0]))] = strings.Clone(r.str(e[1]))
	}
	return m
}

// typed returns the request as the generated message: the full decode if
// the scan fell back to one, else a decode of the held bytes.
func (r *wireRequest) typed() (*authv3.CheckRequest, error) {
	if r.full != nil {
		return r.full, nil
	}
	req := new(authv3.CheckRequest)
	if err := proto.Unmarshal(r.buf.ReadOnlyData(), req); err != nil {
		return nil, err
	}
	return req, nil
}
