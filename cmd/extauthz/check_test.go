package main

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"extauthz/internal/secret"
)

// TestPrintDecisionShowsNoCredential: check may be pointed at any ext_authz
// server, so a credential is hidden wherever the server puts it — in a
// credential header (fingerprint), in another header or in a denial body
// (scrubbed).
func TestPrintDecisionShowsNoCredential(t *testing.T) {
	const token = "sk-ant-oat01-cmd-check-print-test-0123456789"
	suiteOutput.Remember(token)
	header := func(k, v string) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}}
	}
	var out output
	printDecision(&out, &authv3.CheckResponse{
		Status: &status.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{
			header("authorization", "Bearer "+token),
			header("x-upstream-token", token),
			header("anthropic-beta", "oauth-2025-04-20"),
		}}},
	})
	printDecision(&out, &authv3.CheckResponse{
		Status: &status.Status{Code: 7},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
			Headers: []*corev3.HeaderValueOption{header("x-debug", "rejected "+token)},
			Body:    `{"error":"` + token + `"}`,
		}},
	})
	got := out.String()
	if strings.Contains(got, token) {
		t.Fatal("check printed the token in clear")
	}
	for _, want := range []string{
		"authorization: Bearer sk-ant-oat01-… (fingerprint " + secret.New(token).Fingerprint() + ")",
		"x-upstream-token: " + secret.Redacted,
		"anthropic-beta: oauth-2025-04-20\n",
		"x-debug: rejected " + secret.Redacted,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
