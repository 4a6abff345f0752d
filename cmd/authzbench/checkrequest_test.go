package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// extauthzResponse is the baseline's response with the dynamic_metadata
// extauthz adds to every OK answer, naming credential.
func extauthzResponse(credential string) *authv3.CheckResponse {
	resp := baselineResponse()
	resp.DynamicMetadata = &structpb.Struct{Fields: map[string]*structpb.Value{
		"credential": structpb.NewStringValue(credential),
		"generation": structpb.NewNumberValue(3),
	}}
	return resp
}

// staticResponse is extauthz's static-key answer in shape.
func staticResponse() *authv3.CheckResponse {
	resp := extauthzResponse("default")
	ok := resp.GetOkResponse()
	ok.Headers = ok.Headers[:1]
	ok.Headers[0].Header = &corev3.HeaderValue{Key: "x-api-key", Value: staticKey}
	ok.HeadersToRemove = []string{"authorization"}
	return resp
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvoyCheckRequest(t *testing.T) {
	req := envoyCheckRequest(false, "")
	b, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 400 || len(b) > 700 {
		t.Errorf("request is %d bytes, want about half a kilobyte", len(b))
	}
	again, _ := encodeRequest(envoyCheckRequest(false, ""))
	if string(again) != string(b) {
		t.Error("encoding is not deterministic")
	}
	h := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	if h[":authority"] != "api.anthropic.com" || h["x-api-key"] == "" || h["anthropic-beta"] != "" {
		t.Errorf("headers %v", h)
	}
	if envoyCheckRequest(true, "").GetAttributes().GetRequest().GetHttp().GetHeaders()["anthropic-beta"] != clientBeta {
		t.Error("the client-beta variant has no anthropic-beta")
	}
	for _, kind := range allServers {
		ext := requestFor(kind, false).GetAttributes().GetContextExtensions()
		if want := kind == serverWIFMany; want != (ext["credential"] == "c15" && len(ext) == 1) || !want && len(ext) != 0 {
			t.Errorf("%s: context_extensions %v", kind, ext)
		}
	}
	if len(manyCredentialNames) != 16 || manyCredentialNames[0] != "c00" || selectedCredential != "c15" {
		t.Errorf("credentials %v, selecting %s", manyCredentialNames, selectedCredential)
	}
}

func TestCheckOK(t *testing.T) {
	wif := wantFor(serverWIF, false)
	good := marshal(t, extauthzResponse("default"))
	if err := wif.check(good); err != nil {
		t.Errorf("WIF response: %v", err)
	}
	if err := wantFor(serverBaseline, false).check(marshal(t, baselineResponse())); err != nil {
		t.Errorf("baseline response: %v", err)
	}
	if err := wantFor(serverStatic, false).check(marshal(t, staticResponse())); err != nil {
		t.Errorf("static-key response: %v", err)
	}
	many := wantFor(serverWIFMany, false)
	selected := marshal(t, extauthzResponse("c15"))
	if err := many.check(selected); err != nil {
		t.Errorf("the selected credential's response: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = many.check(selected) }); n != 0 {
		t.Errorf("the load-time check with metadata allocates %v times", n)
	}
	denied, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "x"}}})
	okWithBadCode, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 7, Message: "no"},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}})
	noStatusResp := extauthzResponse("default")
	noStatusResp.Status = nil
	noStatus, _ := proto.Marshal(noStatusResp)
	for _, c := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"denied", denied, errNotOK},
		{"ok_response with a non-zero code", okWithBadCode, errNotOK},
		{"empty", nil, errNotOK},
		{"truncated", good[:len(good)-3], errMalformed},
		{"garbage", []byte{0xff, 0xff, 0xff}, errMalformed},
	} {
		if err := wif.check(c.msg); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A missing status is code 0 in proto3.
	if err := wif.check(noStatus); err != nil {
		t.Errorf("ok_response without status: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = wif.check(good) }); n != 0 {
		t.Errorf("the load-time check allocates %v times", n)
	}
}

// An OK response that does not do the job fails the load-time check, so a
// broken server cannot look fast.
func TestCheckOKWantsTheCredential(t *testing.T) {
	edit := func(f func(ok *authv3.OkHttpResponse)) []byte {
		resp := extauthzResponse("default")
		f(resp.GetOkResponse())
		b, err := proto.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		msg  []byte
		w    okWant
		want error
	}{
		{"no headers", edit(func(ok *authv3.OkHttpResponse) { ok.Headers = nil }), wantFor(serverWIF, false), errNoCredential},
		{"bearer without a token", edit(func(ok *authv3.OkHttpResponse) { ok.Headers[0].Header.Value = "Bearer sk-ant-oat01-" }), wantFor(serverWIF, false), errNoCredential},
		{"an API key instead of a bearer", edit(func(ok *authv3.OkHttpResponse) { ok.Headers[0].Header.Value = "Bearer sk-ant-api03-x" }), wantFor(serverWIF, false), errNoCredential},
		{"x-api-key kept", edit(func(ok *authv3.OkHttpResponse) { ok.HeadersToRemove = nil }), wantFor(serverWIF, false), errNotRemoved},
		{"client beta dropped", edit(func(*authv3.OkHttpResponse) {}), wantFor(serverWIF, true), errNoBeta},
		{"WIF answer to a static-key server", edit(func(*authv3.OkHttpResponse) {}), wantFor(serverStatic, false), errNoCredential},
	} {
		if err := c.w.check(c.msg); !errors.Is(err, c.want) || !errors.Is(err, errShape) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A later ok_response merges into the one before; after a denial it
	// starts afresh, as proto.Unmarshal reads it.
	good, _ := proto.Marshal(extauthzResponse("default"))
	denied, _ := proto.Marshal(&authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{}}})
	bare, _ := proto.Marshal(&authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}})
	if err := wantFor(serverWIF, false).check(append(slices.Clone(good), bare...)); err != nil {
		t.Errorf("good then an empty ok_response: %v, want OK", err)
	}
	if err := wantFor(serverWIF, false).check(slices.Concat(good, denied, bare)); !errors.Is(err, errNoCredential) {
		t.Errorf("good, denied, empty ok_response: %v, want errNoCredential", err)
	}
}

// The 16-credential server's answers must name the credential the request
// selects, as proto.Unmarshal reads dynamic_metadata: a map whose last entry
// for a key wins, whose value is a oneof.
func TestCheckOKWantsTheSelectedCredential(t *testing.T) {
	many := wantFor(serverWIFMany, false)
	meta := func(fields map[string]*structpb.Value) []byte {
		resp := baselineResponse()
		resp.DynamicMetadata = &structpb.Struct{Fields: fields}
		return marshal(t, resp)
	}
	// entry is one serialized map entry of Struct.fields: key, then value
	// bytes, inside CheckResponse.dynamic_metadata (field 4).
	entry := func(key string, value []byte) []byte {
		e := protowire.AppendTag(nil, 1, protowire.BytesType)
		e = protowire.AppendString(e, key)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendBytes(e, value)
		st := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), e)
		return protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), st)
	}
	str := func(s string) []byte { return marshal(t, structpb.NewStringValue(s)) }
	base := marshal(t, baselineResponse())
	for _, c := range []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"selected", meta(map[string]*structpb.Value{"credential": structpb.NewStringValue("c15")}), true},
		{"no metadata", base, false},
		{"another credential", meta(map[string]*structpb.Value{"credential": structpb.NewStringValue("c14")}), false},
		{"the name under another key", meta(map[string]*structpb.Value{"cred": structpb.NewStringValue("c15")}), false},
		{"a number", meta(map[string]*structpb.Value{"credential": structpb.NewNumberValue(15)}), false},
		{"a later entry replaces", slices.Concat(base, entry("credential", str("c15")), entry("credential", str("c14"))), false},
		{"a later entry replaces, back", slices.Concat(base, entry("credential", str("c14")), entry("credential", str("c15"))), true},
		{"the value's kind changes after", slices.Concat(base, entry("credential", slices.Concat(str("c15"), marshal(t, structpb.NewBoolValue(true))))), false},
		{"the value's kind changes back", slices.Concat(base, entry("credential", slices.Concat(marshal(t, structpb.NewBoolValue(true)), str("c15")))), true},
	} {
		err := many.check(c.msg)
		if c.ok && err != nil || !c.ok && !errors.Is(err, errNotSelected) {
			t.Errorf("%s: %v", c.name, err)
		}
		var resp authv3.CheckResponse
		if err := proto.Unmarshal(c.msg, &resp); err != nil || carries(&resp, many) != c.ok {
			t.Errorf("%s: proto reads it differently (%v)", c.name, err)
		}
	}
}

func TestCheckShape(t *testing.T) {
	resp := baselineResponse()
	if err := checkShape(resp, wantFor(serverBaseline, false)); err != nil {
		t.Errorf("baseline response: %v", err)
	}
	if err := checkShape(extauthzResponse("c15"), wantFor(serverWIFMany, false)); err != nil {
		t.Errorf("the selected credential's response: %v", err)
	}
	if err := checkShape(extauthzResponse("c14"), wantFor(serverWIFMany, false)); !errors.Is(err, errShape) {
		t.Errorf("another credential's response: %v, want errShape", err)
	}
	for _, c := range []struct {
		name string
		w    okWant
	}{
		{"wrong credential header", okWant{header: "x-api-key", prefix: "sk-ant-api03-", removed: "x-api-key"}},
		{"wrong removal", okWant{header: "authorization", prefix: "Bearer ", removed: "authorization"}},
		{"wrong beta", okWant{header: "authorization", prefix: "Bearer ", removed: "x-api-key", beta: "other"}},
	} {
		if err := checkShape(resp, c.w); !errors.Is(err, errShape) {
			t.Errorf("%s: %v, want errShape", c.name, err)
		}
	}
	loose := okWant{header: "authorization", prefix: "Bearer ", removed: "x-api-key"}
	appendTrue := proto.Clone(resp).(*authv3.CheckResponse)
	appendTrue.GetOkResponse().GetHeaders()[0].GetAppend().Value = true
	if err := checkShape(appendTrue, loose); !errors.Is(err, errShape) {
		t.Errorf("append=true: %v, want errShape", err)
	}
	if err := checkShape(&authv3.CheckResponse{Status: &status.Status{Code: 14}}, loose); !errors.Is(err, errShape) {
		t.Errorf("denial: %v, want errShape", err)
	}
}

// carries is the load-time check read from a decoded response: OK, a
// credential header with the wanted prefix and more, the removal, and the
// beta when one is wanted.
func carries(resp *authv3.CheckResponse, w okWant) bool {
	ok := resp.GetOkResponse()
	if resp.GetStatus().GetCode() != 0 || ok == nil {
		return false
	}
	var credential, beta bool
	for _, h := range ok.GetHeaders() {
		k, v := h.GetHeader().GetKey(), h.GetHeader().GetValue()
		credential = credential || k == w.header && len(v) > len(w.prefix) && strings.HasPrefix(v, w.prefix)
		beta = beta || k == "anthropic-beta" && v == w.beta
	}
	selected := w.credential == "" || resp.GetDynamicMetadata().GetFields()["credential"].GetStringValue() == w.credential
	return credential && slices.Contains(ok.GetHeadersToRemove(), w.removed) && (w.beta == "" || beta) && selected
}

// FuzzCheckOK holds the load-time check to proto.Unmarshal: whenever proto
// can decode a response, the check accepts it exactly when it is OK and
// carries what the server's answers must.
func FuzzCheckOK(f *testing.F) {
	good := marshal(f, extauthzResponse("default"))
	denied, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "x"}}})
	f.Add(good)
	f.Add(marshal(f, staticResponse()))
	f.Add(marshal(f, extauthzResponse("c15")))
	f.Add(marshal(f, baselineResponse()))
	f.Add(denied)
	f.Add(append(append([]byte{}, good...), denied...)) // denied last: not OK
	f.Add(append(append([]byte{}, denied...), good...)) // ok last, but code 14 stays
	f.Add([]byte{0x0a, 0x02, 0x08, 0x07, 0x0a, 0x02, 0x08, 0x00, 0x1a, 0x00})
	wants := []okWant{wantFor(serverWIF, false), wantFor(serverWIF, true), wantFor(serverStatic, false), wantFor(serverWIFMany, false), wantFor(serverBaseline, false)}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var resp authv3.CheckResponse
		decoded := proto.Unmarshal(msg, &resp) == nil
		for _, w := range wants {
			err := w.check(msg)
			if decoded && (err == nil) != carries(&resp, w) {
				t.Errorf("check for %s of %q = %v, but proto reads code %d, ok_response %v with %d headers and removals %q, metadata %v",
					w.header, w.credential, err, resp.GetStatus().GetCode(), resp.GetOkResponse() != nil, len(resp.GetOkResponse().GetHeaders()),
					resp.GetOkResponse().GetHeadersToRemove(), resp.GetDynamicMetadata())
			}
		}
	})
}
