package authz

import (
	"bytes"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers on the path from CheckRequest to what Check reads (checked
// against the generated descriptors by TestWireFieldNumbers).
const (
	numCheckRequestAttributes      protowire.Number = 1  // CheckRequest.attributes
	numAttributesSource            protowire.Number = 1  // AttributeContext.source
	numPeerPrincipal               protowire.Number = 4  // AttributeContext.Peer.principal
	numAttributesRequest           protowire.Number = 4  // AttributeContext.request
	numAttributesContextExtensions protowire.Number = 10 // AttributeContext.context_extensions
	numRequestHTTP                 protowire.Number = 2  // AttributeContext.Request.http
	numHTTPID                      protowire.Number = 1  // HttpRequest.id
	numHTTPHeaders                 protowire.Number = 3  // HttpRequest.headers
	numHTTPHost                    protowire.Number = 5  // HttpRequest.host
	numHTTPHeaderMap               protowire.Number = 13 // HttpRequest.header_map
	numHeaderMapHeaders            protowire.Number = 1  // HeaderMap.headers
	numHeaderValueKey              protowire.Number = 1  // HeaderValue.key
	numHeaderValueValue            protowire.Number = 2  // HeaderValue.value
	numHeaderValueRawValue         protowire.Number = 3  // HeaderValue.raw_value
	numMapKey                      protowire.Number = 1  // map entry key
	numMapValue                    protowire.Number = 2  // map entry value
)

// Schemas of the messages on that path, for the fields the scan skips.
var (
	attributesSchema  = checkRequestSchema.fields[numCheckRequestAttributes].child
	peerSchema        = attributesSchema.fields[numAttributesSource].child
	requestSchema     = attributesSchema.fields[numAttributesRequest].child
	extensionSchema   = attributesSchema.fields[numAttributesContextExtensions].child
	httpSchema        = requestSchema.fields[numRequestHTTP].child
	headersSchema     = httpSchema.fields[numHTTPHeaders].child
	headerMapSchema   = httpSchema.fields[numHTTPHeaderMap].child
	headerValueSchema = headerMapSchema.fields[numHeaderMapHeaders].child
)

// span is a [start, end) range of the request bytes.
type span struct{ start, end int }

// How many header_map anthropic-beta entries and context_extensions entries
// a wireView holds; a request with more is decoded in full instead.
const (
	maxMapBetas   = 16
	maxExtensions = 8
)

// wireView is what Check reads of a CheckRequest, as spans of its wire
// bytes, with proto's merge rules: a message field sent twice is merged, the
// last scalar wins, map entries overwrite by key, repeated fields append.
type wireView struct {
	http         bool // attributes.request.http is present
	principal    span // attributes.source.principal
	id, host     span // attributes.request.http.id, .host
	authority    span // headers[":authority"]
	beta         span // headers["anthropic-beta"]
	mapAuthority span // the first non-empty header_map ":authority" value
	mapBetas     [maxMapBetas]span
	nMapBetas    int // header_map entries whose key folds to anthropic-beta, in order
	extensions   [maxExtensions][2]span
	nExtensions  int // context_extensions entries (key, value) in wire order; the last of a key wins
}

// scanner walks one CheckRequest's bytes into a wireView. Each method walks
// the message in msg[start:end] and reports false when proto.Unmarshal might
// reject it or the view cannot hold what it carries.
type scanner struct {
	msg []byte
	v   *wireView
}

// scan fills v from the CheckRequest in msg. false means "not sure": decode
// msg with proto.Unmarshal instead, which also reports it if malformed.
func (v *wireView) scan(msg []byte) bool {
	*v = wireView{}
	s := scanner{msg: msg, v: v}
	if !s.checkRequest(0, len(msg)) {
		*v = wireView{} // no half-read view
		return false
	}
	return true
}

// field reads the tag at pos: the field number, its wire type and the
// position of its value.
func (s *scanner) field(pos, end int) (protowire.Number, protowire.Type, int, bool) {
	if c := s.msg[pos]; c < 0x80 && c >= 1<<3 { // one-byte tag: fields 1-15, the common case
		return protowire.Number(c >> 3), protowire.Type(c & 7), pos + 1, true
	}
	num, typ, n := protowire.ConsumeTag(s.msg[pos:end])
	if n < 0 || num > protowire.MaxValidNumber {
		return 0, 0, 0, false
	}
	return num, typ, pos + n, true
}

// value returns the length-delimited value at pos and the position after it.
func (s *scanner) value(pos, end int) (span, int, bool) {
	if pos < end && s.msg[pos] < 0x80 { // one-byte length: values under 128 bytes
		start := pos + 1
		next := start + int(s.msg[pos])
		return span{start, next}, next, next <= end
	}
	v, n := protowire.ConsumeBytes(s.msg[pos:end])
	if n < 0 {
		return span{}, 0, false
	}
	start := pos + n - len(v)
	return span{start, start + len(v)}, pos + n, true
}

// str is value for a proto3 string field: it must be valid UTF-8.
func (s *scanner) str(pos, end int) (span, int, bool) {
	v, next, ok := s.value(pos, end)
	return v, next, ok && utf8.Valid(s.msg[v.start:v.end])
}

// ours is num if its value is length-delimited, else 0: the fields the
// scan reads are all strings, bytes or messages, and proto keeps one sent
// with another wire type as an unknown field, as skip does.
func ours(num protowire.Number, typ protowire.Type) protowire.Number {
	if typ != protowire.BytesType {
		return 0
	}
	return num
}

// skip validates, as schema's field num, the value at pos and returns the
// position after it.
func (s *scanner) skip(schema *msgSchema, num protowire.Number, typ protowire.Type, pos, end, depth int) (int, bool) {
	n := schema.field(num).consume(num, typ, s.msg[pos:end], depth)
	return pos + n, n >= 0
}

// walk walks the message in [start, end) whose only field the scan reads is
// num: each length-delimited value of num goes to s.read(r), every other
// field is validated and skipped as schema's field.
func (s *scanner) walk(start, end int, schema *msgSchema, depth int, num protowire.Number, r reader) bool {
	for pos := start; pos < end; {
		n, typ, at, ok := s.field(pos, end)
		if !ok {
			return false
		}
		if n == num && typ == protowire.BytesType {
			var m span
			if m, pos, ok = s.value(at, end); !ok || !s.read(r, m.start, m.end) {
				return false
			}
			continue
		}
		if pos, ok = s.skip(schema, n, typ, at, end, depth); !ok {
			return false
		}
	}
	return true
}

// reader says what walk does with a value: a switch rather than a function
// value, which would move the scanner to the heap.
type reader uint8

const (
	readAttributes reader = iota
	readHTTP
	readHeaderValue
)

func (s *scanner) read(r reader, start, end int) bool {
	switch r {
	case readAttributes:
		return s.attributes(start, end)
	case readHTTP:
		s.v.http = true
		return s.httpRequest(start, end)
	default:
		return s.headerValue(start, end)
	}
}

func (s *scanner) checkRequest(start, end int) bool {
	return s.walk(start, end, checkRequestSchema, 0, numCheckRequestAttributes, readAttributes)
}

func (s *scanner) attributes(start, end int) bool {
	for pos := start; pos < end; {
		num, typ, at, ok := s.field(pos, end)
		if !ok {
			return false
		}
		var m span
		switch ours(num, typ) {
		case numAttributesSource:
			if m, pos, ok = s.value(at, end); !ok || !s.peer(m.start, m.end) {
				return false
			}
		case numAttributesRequest:
			if m, pos, ok = s.value(at, end); !ok || !s.request(m.start, m.end) {
				return false
			}
		case numAttributesContextExtensions:
			if m, pos, ok = s.value(at, end); !ok || s.v.nExtensions == maxExtensions {
				return false
			}
			k, v, ok := s.stringEntry(extensionSchema, m.start, m.end, 2)
			if !ok {
				return false
			}
			s.v.extensions[s.v.nExtensions] = [2]span{k, v}
			s.v.nExtensions++
		default:
			if pos, ok = s.skip(attributesSchema, num, typ, at, end, 1); !ok {
				return false
			}
		}
	}
	return true
}

// peer reads attributes.source: its principal, the last one sent (proto
// merges a message field sent twice, and a later scalar wins).
func (s *scanner) peer(start, end int) bool {
	for pos := start; pos < end; {
		num, typ, at, ok := s.field(pos, end)
		if !ok {
			return false
		}
		if ours(num, typ) == numPeerPrincipal {
			var v span
			if v, pos, ok = s.str(at, end); !ok {
				return false
			}
			s.v.principal = v
			continue
		}
		if pos, ok = s.skip(peerSchema, num, typ, at, end, 2); !ok {
			return false
		}
	}
	return true
}

func (s *scanner) request(start, end int) bool {
	return s.walk(start, end, requestSchema, 2, numRequestHTTP, readHTTP)
}

func (s *scanner) httpRequest(start, end int) bool {
	for pos := start; pos < end; {
		num, typ, at, ok := s.field(pos, end)
		if !ok {
			return false
		}
		var m span
		switch ours(num, typ) {
		case numHTTPID:
			m, pos, ok = s.str(at, end)
			s.v.id = m
		case numHTTPHost:
			m, pos, ok = s.str(at, end)
			s.v.host = m
		case numHTTPHeaders:
			if m, pos, ok = s.value(at, end); ok {
				var k, v span
				k, v, ok = s.stringEntry(headersSchema, m.start, m.end, 4)
				switch string(s.msg[k.start:k.end]) {
				case authorityHeader:
					s.v.authority = v
				case betaHeader:
					s.v.beta = v
				}
			}
		case numHTTPHeaderMap:
			if m, pos, ok = s.value(at, end); ok {
				ok = s.headerMap(m.start, m.end)
			}
		default:
			pos, ok = s.skip(httpSchema, num, typ, at, end, 3)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *scanner) headerMap(start, end int) bool {
	return s.walk(start, end, headerMapSchema, 4, numHeaderMapHeaders, readHeaderValue)
}

// betaHeaderBytes is betaHeader for bytes.EqualFold, which folds exactly as
// strings.EqualFold does in requestBeta.
var betaHeaderBytes = []byte(betaHeader)

// headerValue reads one header_map entry and keeps it if Check reads it:
// the first non-empty ":authority", and every key that folds to
// anthropic-beta. Its value is raw_value when set, else value (headerValue).
func (s *scanner) headerValue(start, end int) bool {
	var key, value, raw span
	for pos := start; pos < end; {
		num, typ, at, ok := s.field(pos, end)
		if !ok {
			return false
		}
		switch ours(num, typ) {
		case numHeaderValueKey:
			key, pos, ok = s.str(at, end)
		case numHeaderValueValue:
			value, pos, ok = s.str(at, end)
		case numHeaderValueRawValue:
			raw, pos, ok = s.value(at, end) // bytes: any content
		default:
			pos, ok = s.skip(headerValueSchema, num, typ, at, end, 5)
		}
		if !ok {
			return false
		}
	}
	if raw.end > raw.start {
		value = raw
	}
	k := s.msg[key.start:key.end]
	switch {
	case string(k) == authorityHeader:
		if s.v.mapAuthority.end == s.v.mapAuthority.start {
			s.v.mapAuthority = value
		}
	case bytes.EqualFold(k, betaHeaderBytes):
		if s.v.nMapBetas == maxMapBetas {
			return false
		}
		s.v.mapBetas[s.v.nMapBetas] = value
		s.v.nMapBetas++
	}
	return true
}

// stringEntry reads a map<string, string> entry: the last key and the last
// value, each "" when absent, as proto decodes it.
func (s *scanner) stringEntry(schema *msgSchema, start, end, depth int) (key, value span, ok bool) {
	for pos := start; pos < end; {
		num, typ, at, ok := s.field(pos, end)
		if !ok {
			return span{}, span{}, false
		}
		switch ours(num, typ) {
		case numMapKey:
			key, pos, ok = s.str(at, end)
		case numMapValue:
			value, pos, ok = s.str(at, end)
		default:
			pos, ok = s.skip(schema, num, typ, at, end, depth)
		}
		if !ok {
			return span{}, span{}, false
		}
	}
	return key, value, true
}
