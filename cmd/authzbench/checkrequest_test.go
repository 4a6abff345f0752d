package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

func TestEnvoyCheckRequest(t *testing.T) {
	req := envoyCheckRequest(false)
	b, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 400 || len(b) > 700 {
		t.Errorf("request is %d bytes, want about half a kilobyte", len(b))
	}
	again, _ := encodeRequest(envoyCheckRequest(false))
	if string(again) != string(b) {
		t.Error("encoding is not deterministic")
	}
	h := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	if h[":authority"] != "api.anthropic.com" || h["x-api-key"] == "" || h["anthropic-beta"] != "" {
		t.Errorf("headers %v", h)
	}
	if envoyCheckRequest(true).GetAttributes().GetRequest().GetHttp().GetHeaders()["anthropic-beta"] != clientBeta {
		t.Error("the client-beta variant has no anthropic-beta")
	}
}

func TestCheckOK(t *testing.T) {
	wif := wantFor(serverWIF, false)
	good, err := proto.Marshal(baselineResponse())
	if err != nil {
		t.Fatal(err)
	}
	if err := wif.check(good); err != nil {
		t.Errorf("baseline response: %v", err)
	}
	denied, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "x"}}})
	okWithBadCode, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 7, Message: "no"},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}})
	noStatusResp := baselineResponse()
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
		resp := baselineResponse()
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
	good, _ := proto.Marshal(baselineResponse())
	denied, _ := proto.Marshal(&authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{}}})
	bare, _ := proto.Marshal(&authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}})
	if err := wantFor(serverWIF, false).check(append(slices.Clone(good), bare...)); err != nil {
		t.Errorf("good then an empty ok_response: %v, want OK", err)
	}
	if err := wantFor(serverWIF, false).check(slices.Concat(good, denied, bare)); !errors.Is(err, errNoCredential) {
		t.Errorf("good, denied, empty ok_response: %v, want errNoCredential", err)
	}
}

func TestCheckShape(t *testing.T) {
	resp := baselineResponse()
	if err := checkShape(resp, wantFor(serverBaseline, false)); err != nil {
		t.Errorf("baseline response: %v", err)
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
	return credential && slices.Contains(ok.GetHeadersToRemove(), w.removed) && (w.beta == "" || beta)
}

// FuzzCheckOK holds the load-time check to proto.Unmarshal: whenever proto
// can decode a response, the check accepts it exactly when it is OK and
// carries what the server's answers must.
func FuzzCheckOK(f *testing.F) {
	good, _ := proto.Marshal(baselineResponse())
	denied, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "x"}}})
	static := baselineResponse()
	static.GetOkResponse().Headers = static.GetOkResponse().Headers[:1]
	static.GetOkResponse().Headers[0].Header = &corev3.HeaderValue{Key: "x-api-key", Value: staticKey}
	static.GetOkResponse().HeadersToRemove = []string{"authorization"}
	staticOK, _ := proto.Marshal(static)
	f.Add(good)
	f.Add(staticOK)
	f.Add(denied)
	f.Add(append(append([]byte{}, good...), denied...)) // denied last: not OK
	f.Add(append(append([]byte{}, denied...), good...)) // ok last, but code 14 stays
	f.Add([]byte{0x0a, 0x02, 0x08, 0x07, 0x0a, 0x02, 0x08, 0x00, 0x1a, 0x00})
	wants := []okWant{wantFor(serverWIF, false), wantFor(serverWIF, true), wantFor(serverStatic, false)}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var resp authv3.CheckResponse
		decoded := proto.Unmarshal(msg, &resp) == nil
		for _, w := range wants {
			err := w.check(msg)
			if decoded && (err == nil) != carries(&resp, w) {
				t.Errorf("check for %s = %v, but proto reads code %d, ok_response %v with %d headers and removals %q",
					w.header, err, resp.GetStatus().GetCode(), resp.GetOkResponse() != nil, len(resp.GetOkResponse().GetHeaders()), resp.GetOkResponse().GetHeadersToRemove())
			}
		}
	})
}
