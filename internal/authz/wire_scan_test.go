package authz

import (
	"maps"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestWireFieldNumbers holds the scan's field numbers to the generated
// descriptors.
func TestWireFieldNumbers(t *testing.T) {
	attrs := (*authv3.AttributeContext)(nil).ProtoReflect().Descriptor()
	http := (*authv3.AttributeContext_HttpRequest)(nil).ProtoReflect().Descriptor()
	hv := (*corev3.HeaderValue)(nil).ProtoReflect().Descriptor()
	cases := []struct {
		md   protoreflect.MessageDescriptor
		name protoreflect.Name
		num  protowire.Number
	}{
		{(*authv3.CheckRequest)(nil).ProtoReflect().Descriptor(), "attributes", numCheckRequestAttributes},
		{attrs, "request", numAttributesRequest},
		{attrs, "context_extensions", numAttributesContextExtensions},
		{(*authv3.AttributeContext_Request)(nil).ProtoReflect().Descriptor(), "http", numRequestHTTP},
		{http, "id", numHTTPID},
		{http, "headers", numHTTPHeaders},
		{http, "host", numHTTPHost},
		{http, "header_map", numHTTPHeaderMap},
		{(*corev3.HeaderMap)(nil).ProtoReflect().Descriptor(), "headers", numHeaderMapHeaders},
		{hv, "key", numHeaderValueKey},
		{hv, "value", numHeaderValueValue},
		{hv, "raw_value", numHeaderValueRawValue},
		{http.Fields().ByName("headers").Message(), "key", numMapKey},
		{http.Fields().ByName("headers").Message(), "value", numMapValue},
	}
	for _, c := range cases {
		fd := c.md.Fields().ByName(c.name)
		if fd == nil || fd.Number() != c.num {
			t.Errorf("%s.%s: the scan uses field %d, the descriptor says %v", c.md.FullName(), c.name, c.num, fd)
		}
	}
}

// readView is what Check reads of a request, decoded either way.
type readView struct {
	http                                  bool
	id, host, authority, betas, principal string
	extensions                            map[string]string
}

func typedView(req *authv3.CheckRequest) readView {
	http := req.GetAttributes().GetRequest().GetHttp()
	return readView{
		http:       http != nil,
		id:         http.GetId(),
		host:       http.GetHost(),
		authority:  requestAuthority(http),
		betas:      requestBeta(http),
		extensions: req.GetAttributes().GetContextExtensions(),
		principal:  req.GetAttributes().GetSource().GetPrincipal(),
	}
}

func scannedView(r *wireRequest) readView {
	return readView{
		http:       r.hasHTTP(),
		id:         strings.Clone(r.id()),
		host:       strings.Clone(r.str(r.view.host)),
		authority:  strings.Clone(r.authority()),
		betas:      string(r.appendBeta(nil)),
		extensions: r.contextExtensions(),
		principal:  strings.Clone(r.principal()),
	}
}

func (v readView) equal(w readView) bool {
	return v.http == w.http && v.id == w.id && v.host == w.host && v.authority == w.authority &&
		v.betas == w.betas && maps.Equal(v.extensions, w.extensions) && v.principal == w.principal
}

// Hand-made wire messages for the cases the scan must hand to proto.
var (
	// attributes.source.certificate (never read by Check) with invalid UTF-8:
	// proto.Unmarshal refuses the whole request.
	badUTF8InUnreadField = wireMsg(1, wireMsg(1, wireMsg(5, []byte("spiffe://\xff"))))
	// attributes.request.http.headers with a value cut short.
	truncatedHeader = wireMsg(1, wireMsg(4, wireMsg(2, append(wireMsg(3, wireMsg(1, []byte(":authority"))), 0x12, 0x20, 'a'))))
	// an end-group tag at the top level.
	strayEndGroup = []byte{0x0c}
	// field number 0.
	fieldZero = []byte{0x02, 0x00}
	// a group on an undeclared field number, which proto keeps as unknown.
	unknownGroup = append(append([]byte{0x9b, 0x01}, wireMsg(1, []byte("x"))...), 0x9c, 0x01)
	// CheckRequest.attributes sent as a varint: proto keeps it as unknown.
	attributesAsVarint = []byte{0x08, 0x01}
)

// wireMsg is field num, length-delimited, holding b.
func wireMsg(num protowire.Number, b []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
}

// deepMetadata nests google.protobuf.Struct under metadata_context deeper
// than maxScanDepth: proto decodes it, the scan hands it over.
func deepMetadata(t testing.TB) *authv3.CheckRequest {
	v := structpb.NewStringValue("leaf")
	for range maxScanDepth {
		v = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"k": v}})
	}
	req := loadRequest(t, "basic")
	req.Attributes.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"deep": v.GetStructValue()}}
	return req
}

// manyBetaEntries has more header_map anthropic-beta entries than the view
// holds.
func manyBetaEntries(t testing.TB) *authv3.CheckRequest {
	req := loadRequest(t, "header_map_raw")
	hm := req.Attributes.Request.Http.HeaderMap
	for i := range maxMapBetas {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: "anthropic-beta", Value: "extra-" + strings.Repeat("b", i)})
	}
	return req
}

// TestScanHandsOverWhatItCannotVouchFor: for malformed bytes the fast path
// refuses exactly when proto.Unmarshal does, and for well-formed bytes it
// cannot hold or is unsure of, it answers from a full decode, with the
// typed path's bytes.
func TestScanHandsOverWhatItCannotVouchFor(t *testing.T) {
	marshal := func(req *authv3.CheckRequest) []byte {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const (
		refused    = iota // malformed: proto.Unmarshal fails, and so must the fast path
		scanned           // well-formed and answered from the scan
		fullDecode        // well-formed, answered from a full decode
	)
	cases := []struct {
		name string
		in   []byte
		want int
	}{
		{"bad UTF-8 in an unread field", badUTF8InUnreadField, refused},
		{"truncated header", truncatedHeader, refused},
		{"stray end group", strayEndGroup, refused},
		{"field zero", fieldZero, refused},
		{"unknown group", unknownGroup, scanned},
		{"attributes as varint", attributesAsVarint, scanned},
		{"nested deeper than the scan goes", marshal(deepMetadata(t)), fullDecode},
		{"more beta entries than the view holds", marshal(manyBetaEntries(t)), fullDecode},
	}
	s := newTestServer(t, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typed, protoErr := checkTypedBytes(t, s, c.in)
			w := checkWireBytes(t, s, c.in)
			if (w.unmarshalErr == nil) != (protoErr == nil) {
				t.Fatalf("fast path error %v, proto.Unmarshal error %v", w.unmarshalErr, protoErr)
			}
			if (protoErr != nil) != (c.want == refused) {
				t.Fatalf("proto.Unmarshal error %v: the case is not what it says", protoErr)
			}
			if protoErr != nil {
				return
			}
			if w.fellBack != (c.want == fullDecode) {
				t.Errorf("fell back to a full decode: %v", w.fellBack)
			}
			if string(w.resp) != string(typed) {
				t.Error("fast path bytes differ from the typed path's")
			}
		})
	}
}
