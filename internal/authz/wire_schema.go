package authz

import (
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The fast path must accept exactly the bytes proto.Unmarshal accepts, or
// hand them to proto.Unmarshal. proto.Unmarshal rejects malformed wire data
// anywhere in the message and invalid UTF-8 in any proto3 string field, even
// in fields Check never reads. So the scan walks every field, and this schema,
// built once from the generated descriptors, says what each field number of
// each message reachable from CheckRequest holds. Everything proto skips
// (undeclared numbers, scalars, bytes, a declared field sent with another
// wire type) the scan skips the same way, with protowire.ConsumeFieldValue.

// msgSchema is what the scan knows of one message type.
type msgSchema struct {
	fields []fieldSchema // by field number; the zero value for undeclared numbers
}

// fieldSchema is what the scan knows of one field.
type fieldSchema struct {
	kind  fieldKind
	child *msgSchema // fieldMessage: the message, or the map entry
}

type fieldKind uint8

const (
	// fieldSkipped: any wire type is consumed as proto consumes it.
	fieldSkipped fieldKind = iota
	// fieldString: a length-delimited value must be valid UTF-8.
	fieldString
	// fieldMessage: a length-delimited value is a message (or a map entry)
	// and is walked with child.
	fieldMessage
	// fieldUnsure: a packed repeated number or a group, which none of the
	// CheckRequest protos declare; the scan gives up on a length-delimited
	// or group value rather than re-implement their decoding.
	fieldUnsure
)

// maxScanDepth bounds the scan's recursion. proto.Unmarshal allows 10,000
// levels; a request nested deeper than this is handed to it.
const maxScanDepth = 64

// checkRequestSchema is the schema of CheckRequest and everything under it.
var checkRequestSchema = newMsgSchema((*authv3.CheckRequest)(nil).ProtoReflect().Descriptor(), map[protoreflect.FullName]*msgSchema{})

// newMsgSchema builds the schema of md; built breaks the cycles of
// google.protobuf.Struct and Value.
func newMsgSchema(md protoreflect.MessageDescriptor, built map[protoreflect.FullName]*msgSchema) *msgSchema {
	if s, ok := built[md.FullName()]; ok {
		return s
	}
	fds := md.Fields()
	highest := protowire.Number(0)
	for i := range fds.Len() {
		highest = max(highest, fds.Get(i).Number())
	}
	if highest > 1<<10 {
		// A dense table would be wasteful and no CheckRequest message needs
		// one: the scan gives up on such a message's fields instead.
		built[md.FullName()] = unsureSchema
		return unsureSchema
	}
	s := new(msgSchema)
	built[md.FullName()] = s
	s.fields = make([]fieldSchema, highest+1)
	for i := range fds.Len() {
		fd := fds.Get(i)
		f := &s.fields[fd.Number()]
		switch {
		case fd.Kind() == protoreflect.StringKind:
			f.kind = fieldString
		case fd.Kind() == protoreflect.MessageKind:
			f.kind = fieldMessage
			f.child = newMsgSchema(fd.Message(), built)
		case fd.Kind() == protoreflect.GroupKind, fd.IsList() && fd.Kind() != protoreflect.BytesKind:
			f.kind = fieldUnsure
		}
	}
	return s
}

// unsureSchema stands for a message the scan does not walk: every
// length-delimited or group value of its fields is unsure.
var unsureSchema = &msgSchema{}

func (s *msgSchema) field(num protowire.Number) fieldSchema {
	if s == unsureSchema {
		return fieldSchema{kind: fieldUnsure}
	}
	if int(num) < len(s.fields) {
		return s.fields[num]
	}
	return fieldSchema{}
}

// valid reports whether proto.Unmarshal accepts b as a message of schema s.
// false also means "unsure" (too deep, a packed field): the caller then asks
// proto.Unmarshal itself.
func (s *msgSchema) valid(b []byte, depth int) bool {
	for len(b) > 0 {
		num, typ, n := protowire.Number(b[0]>>3), protowire.Type(b[0]&7), 1
		if b[0] >= 0x80 || num == 0 { // not a one-byte tag (fields 1-15)
			if num, typ, n = protowire.ConsumeTag(b); n < 0 || num > protowire.MaxValidNumber {
				return false
			}
		}
		b = b[n:]
		if n = s.field(num).consume(num, typ, b, depth); n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// consume validates the value of field num, of wire type typ, at the start
// of b, and returns its length, or -1 if proto.Unmarshal might reject it.
func (f fieldSchema) consume(num protowire.Number, typ protowire.Type, b []byte, depth int) int {
	switch {
	case f.kind == fieldUnsure && (typ == protowire.BytesType || typ == protowire.StartGroupType):
		return -1
	case typ != protowire.BytesType || f.kind == fieldSkipped:
		// Includes a string or message field sent with another wire type:
		// proto keeps it as an unknown field.
		return protowire.ConsumeFieldValue(num, typ, b)
	}
	var v []byte
	var n int
	if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) { // one-byte length
		n = 1 + int(b[0])
		v = b[1:n]
	} else if v, n = protowire.ConsumeBytes(b); n < 0 {
		return -1
	}
	switch f.kind {
	case fieldString:
		if !utf8.Valid(v) {
			return -1
		}
	case fieldMessage:
		if depth >= maxScanDepth || !f.child.valid(v, depth+1) {
			return -1
		}
	}
	return n
}
