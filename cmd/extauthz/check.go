package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"extauthz/internal/secret"
)

// placeholderKey is what a sandboxed workload holds instead of a real key.
const placeholderKey = "placeholder-not-a-real-key"

// headerFlags collects repeated --header k=v flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// check sends one Envoy-shaped CheckRequest and prints the decision and the
// header mutations, credentials shown only as fingerprints. It exits 0 on OK
// and 1 on a denial or an error.
func check(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr(lookup), "extauthz gRPC address (host:port or unix:/path)")
	host := fs.String("host", "api.anthropic.com", "the request's :authority")
	method := fs.String("method", "POST", "the request's method")
	path := fs.String("path", "/v1/messages", "the request's path")
	timeout := fs.Duration("timeout", 5*time.Second, "deadline for the call")
	var headers headerFlags
	fs.Var(&headers, "header", "an extra request header k=v (repeatable), e.g. --header anthropic-beta=files-api-2025-04-14")
	var tf tlsFlags
	tf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: extauthz check [flags]\n\nSends an Envoy-shaped CheckRequest and prints the decision.")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	req, err := checkRequest(*host, *method, *path, headers)
	if err != nil {
		fmt.Fprintf(stderr, "extauthz check: %v\n", err)
		return exitUsage
	}

	tc, err := tf.config()
	if err != nil {
		printProblems(stderr, "check", err)
		return exitUsage
	}
	conn, err := dialTLS(*addr, tc)
	if err != nil {
		fmt.Fprintf(stderr, "extauthz check: %v\n", err)
		return exitFailed
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, req)
	if err != nil {
		// The status message is the server's text: scrub it like any.
		fmt.Fprintf(stderr, "extauthz check: Check on %s failed: %s\n", *addr, secret.Scrub(err.Error()))
		return exitFailed
	}
	fmt.Fprintf(stdout, "extauthz check: %s http://%s%s via %s\n", *method, *host, *path, *addr)
	if printDecision(stdout, resp) {
		return exitOK
	}
	return exitFailed
}

// checkRequest builds the CheckRequest Envoy would send for one request from a
// sandboxed client holding a placeholder key.
func checkRequest(host, method, path string, extra []string) (*authv3.CheckRequest, error) {
	hdrs := map[string]string{
		":authority":        host,
		":method":           method,
		":path":             path,
		":scheme":           "http",
		"anthropic-version": "2023-06-01",
		"content-type":      "application/json",
		"x-api-key":         placeholderKey,
		"user-agent":        "extauthz-check/" + version(),
	}
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("--header %q: want name=value", kv)
		}
		if old, dup := hdrs[k]; dup && !strings.HasPrefix(k, ":") && k != "x-api-key" {
			v = old + "," + v // Envoy comma-joins repeated headers in the map
		}
		hdrs[k] = strings.TrimSpace(v)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress("127.0.0.1", 40000)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress("127.0.0.1", 10000)},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.Now(),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:       hex.EncodeToString(id),
				Method:   method,
				Path:     path,
				Host:     hdrs[":authority"],
				Scheme:   "http",
				Protocol: "HTTP/1.1",
				Size:     -1,
				Headers:  hdrs,
			},
		},
	}}, nil
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
}

// printDecision writes the decision and returns whether it allowed the request.
func printDecision(w io.Writer, resp *authv3.CheckResponse) bool {
	code := codes.Code(resp.GetStatus().GetCode())
	if code == codes.OK {
		fmt.Fprintln(w, "decision: OK")
		ok := resp.GetOkResponse()
		for _, h := range ok.GetHeaders() {
			fmt.Fprintf(w, "  %-7s %s: %s\n", appendMode(h), h.GetHeader().GetKey(), displayValue(h.GetHeader()))
		}
		for _, k := range ok.GetHeadersToRemove() {
			fmt.Fprintf(w, "  %-7s %s\n", "remove", k)
		}
		return true
	}
	denied := resp.GetDeniedResponse()
	fmt.Fprintf(w, "decision: DENIED (gRPC %s, HTTP %d)\n", code, denied.GetStatus().GetCode())
	for _, h := range denied.GetHeaders() {
		fmt.Fprintf(w, "  %-7s %s: %s\n", "header", h.GetHeader().GetKey(), displayValue(h.GetHeader()))
	}
	if body := denied.GetBody(); body != "" {
		fmt.Fprintf(w, "  %-7s %s\n", "body", secret.Scrub(body))
	}
	return false
}

// appendMode names how Envoy applies an OK header. Every release (1.36 to
// 1.40) reads only `append` for ext_authz request headers: true appends to
// an existing header, false or unset sets it (docs/envoy-versions.md). "set?"
// marks a header that relies on `append` being unset with an append_action
// that is not an overwrite: releases set it, but the reverted development
// change #42878 read append_action then and added a second value.
func appendMode(h *corev3.HeaderValueOption) string {
	switch {
	case h.GetAppend().GetValue():
		return "append"
	case h.GetAppend() != nil:
		return "set"
	}
	switch h.GetAppendAction() {
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		return "set"
	}
	return "set?"
}

// displayValue is how check shows a mutation's value: a credential header
// as its fingerprint, anything else scrubbed of credential-looking text, since
// check may be pointed at any ext_authz server.
func displayValue(h *corev3.HeaderValue) string {
	if secret.IsCredentialHeader(h.GetKey()) {
		return secret.DisplayHeader(h.GetKey(), headerValue(h))
	}
	return secret.Scrub(headerValue(h))
}

func headerValue(h *corev3.HeaderValue) string {
	if h.GetValue() != "" {
		return h.GetValue()
	}
	return string(h.GetRawValue())
}
