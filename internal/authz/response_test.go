package authz

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
)

// The builders are pure: these tests need neither a Server nor gRPC.

func TestAllowResponseWIF(t *testing.T) {
	resp := allowResponse(ModeWIF, "tok", "a,oauth-2025-04-20", testMetadata)
	for _, p := range responseProblems(resp) {
		t.Error(p)
	}
	ok := resp.GetOkResponse()
	got := map[string]string{}
	for _, h := range ok.GetHeaders() {
		got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	if len(got) != 2 || got["authorization"] != "Bearer tok" || got["anthropic-beta"] != "a,oauth-2025-04-20" {
		t.Errorf("headers = %v", got)
	}
	if r := ok.GetHeadersToRemove(); len(r) != 1 || r[0] != "x-api-key" {
		t.Errorf("headers_to_remove = %v", r)
	}
	if resp.GetStatus() == nil || resp.GetStatus().GetCode() != 0 {
		t.Errorf("status = %v, want code 0 present", resp.GetStatus())
	}
}

func TestAllowResponseStaticKey(t *testing.T) {
	resp := allowResponse(ModeStaticKey, "key", "ignored", testMetadata)
	for _, p := range responseProblems(resp) {
		t.Error(p)
	}
	hs := resp.GetOkResponse().GetHeaders()
	if len(hs) != 1 || hs[0].GetHeader().GetKey() != "x-api-key" || hs[0].GetHeader().GetValue() != "key" {
		t.Errorf("headers = %v", hs)
	}
	if r := resp.GetOkResponse().GetHeadersToRemove(); len(r) != 1 || r[0] != "authorization" {
		t.Errorf("headers_to_remove = %v", r)
	}
}

// TestAllowResponsesAreIndependent guards the single-allocation layout:
// two responses must not share any part.
func TestAllowResponsesAreIndependent(t *testing.T) {
	a := allowResponse(ModeWIF, "one", "x", nil)
	b := allowResponse(ModeWIF, "two", "y", nil)
	a.GetOkResponse().GetHeaders()[0].GetHeader().Value = "changed"
	a.GetOkResponse().HeadersToRemove[0] = "changed"
	if b.GetOkResponse().GetHeaders()[0].GetHeader().GetValue() != "Bearer two" || b.GetOkResponse().GetHeadersToRemove()[0] != "x-api-key" {
		t.Error("responses share memory")
	}
}

func TestDenyResponses(t *testing.T) {
	cases := []struct {
		d          denial
		code       codes.Code
		status     typev3.StatusCode
		errType    string
		retryAfter string
	}{
		{invalidDenial, codes.InvalidArgument, 400, "invalid_request_error", ""},
		{forbiddenDenial("evil.example"), codes.PermissionDenied, 403, "permission_error", ""},
		{forbiddenDenial(""), codes.PermissionDenied, 403, "permission_error", ""},
		{forbiddenDenial("\"quoted\"\x00" + strings.Repeat("h", 1000)), codes.PermissionDenied, 403, "permission_error", ""},
		{unavailableDenial(0, unavailableBody), codes.Unavailable, 503, "api_error", "1"},
		{unavailableDenial(30*time.Second, unavailableBody), codes.Unavailable, 503, "api_error", "30"},
		{unavailableDenial(24*time.Hour, unusableBody), codes.Unavailable, 503, "api_error", "3600"},
	}
	for _, c := range cases {
		resp := denyResponse(c.d)
		for _, p := range responseProblems(resp) {
			t.Error(p)
		}
		if got := codes.Code(resp.GetStatus().GetCode()); got != c.code {
			t.Errorf("code = %v, want %v", got, c.code)
		}
		d := resp.GetDeniedResponse()
		if d.GetStatus().GetCode() != c.status {
			t.Errorf("HTTP status = %v, want %v", d.GetStatus().GetCode(), c.status)
		}
		headers := map[string]string{}
		for _, h := range d.GetHeaders() {
			headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		if headers["content-type"] != "application/json" || headers["retry-after"] != c.retryAfter {
			t.Errorf("headers = %v, want content-type and retry-after %q", headers, c.retryAfter)
		}
		var body struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(d.GetBody()), &body); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
		if body.Type != "error" || body.Error.Type != c.errType || body.Error.Message == "" {
			t.Errorf("body = %+v, want error/%s with a message", body, c.errType)
		}
	}
}

func TestRetrySeconds(t *testing.T) {
	cases := map[time.Duration]int64{
		-time.Second: 1, 0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2,
		59 * time.Second: 59, 2 * time.Hour: 3600,
	}
	for d, want := range cases {
		if got := retrySeconds(d); got != want {
			t.Errorf("retrySeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestValidHeaderValue(t *testing.T) {
	good := []string{"a", "Bearer sk-ant-oat01-x", "ü"}
	bad := []string{"", "a\rb", "a\nb", "a\x00", "\x7f", "a\tb", "\xff"}
	for _, s := range good {
		if !validHeaderValue(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range bad {
		if validHeaderValue(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
