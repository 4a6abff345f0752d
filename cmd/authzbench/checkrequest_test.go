package main

import (
	"errors"
	"testing"

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
	good, err := proto.Marshal(baselineResponse())
	if err != nil {
		t.Fatal(err)
	}
	if err := checkOK(good); err != nil {
		t.Errorf("baseline response: %v", err)
	}
	denied, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "x"}}})
	okWithBadCode, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 7, Message: "no"},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}})
	noStatus, _ := proto.Marshal(&authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}})
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
		if err := checkOK(c.msg); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A missing status is code 0 in proto3.
	if err := checkOK(noStatus); err != nil {
		t.Errorf("ok_response without status: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = checkOK(good) }); n != 0 {
		t.Errorf("checkOK allocates %v times", n)
	}
}

func TestCheckShape(t *testing.T) {
	resp := baselineResponse()
	if err := checkShape(resp, "authorization", "Bearer sk-ant-oat01-", "x-api-key", "oauth-2025-04-20"); err != nil {
		t.Errorf("baseline response: %v", err)
	}
	for _, c := range []struct {
		name                          string
		header, prefix, removed, beta string
	}{
		{"wrong credential header", "x-api-key", "sk-ant-api03-", "x-api-key", ""},
		{"wrong removal", "authorization", "Bearer ", "authorization", ""},
		{"wrong beta", "authorization", "Bearer ", "x-api-key", "other"},
	} {
		if err := checkShape(resp, c.header, c.prefix, c.removed, c.beta); !errors.Is(err, errShape) {
			t.Errorf("%s: %v, want errShape", c.name, err)
		}
	}
	appendTrue := proto.Clone(resp).(*authv3.CheckResponse)
	appendTrue.GetOkResponse().GetHeaders()[0].GetAppend().Value = true
	if err := checkShape(appendTrue, "authorization", "Bearer ", "x-api-key", ""); !errors.Is(err, errShape) {
		t.Errorf("append=true: %v, want errShape", err)
	}
	if err := checkShape(&authv3.CheckResponse{Status: &status.Status{Code: 14}}, "authorization", "Bearer ", "x-api-key", ""); !errors.Is(err, errShape) {
		t.Errorf("denial: %v, want errShape", err)
	}
}

// FuzzCheckOK holds the load-time check to proto.Unmarshal: whenever proto
// can decode a response, checkOK accepts it exactly when it is OK.
func FuzzCheckOK(f *testing.F) {
	good, _ := proto.Marshal(baselineResponse())
	denied, _ := proto.Marshal(&authv3.CheckResponse{Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "x"}}})
	f.Add(good)
	f.Add(denied)
	f.Add(append(append([]byte{}, good...), denied...)) // denied last: not OK
	f.Add(append(append([]byte{}, denied...), good...)) // ok last, but code 14 stays
	f.Add([]byte{0x0a, 0x02, 0x08, 0x07, 0x0a, 0x02, 0x08, 0x00, 0x1a, 0x00})
	f.Fuzz(func(t *testing.T, msg []byte) {
		err := checkOK(msg)
		var resp authv3.CheckResponse
		if proto.Unmarshal(msg, &resp) != nil {
			return
		}
		want := resp.GetStatus().GetCode() == 0 && resp.GetOkResponse() != nil
		if (err == nil) != want {
			t.Errorf("checkOK = %v, but proto reads code %d, ok_response %v", err, resp.GetStatus().GetCode(), resp.GetOkResponse() != nil)
		}
	})
}
