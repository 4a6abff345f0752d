package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// checkMethod is the ext_authz method every server is driven through.
const checkMethod = "/envoy.service.auth.v3.Authorization/Check"

// clientBeta is the anthropic-beta a client sends in the -client-beta variant.
const clientBeta = "prompt-caching-2024-07-31"

// envoyCheckRequest is the CheckRequest an Envoy sidecar sends for one call
// from an Anthropic SDK that holds a placeholder key: the fields Envoy fills
// for an HTTP/1.1 downstream, about half a kilobyte.
func envoyCheckRequest(withBeta bool) *authv3.CheckRequest {
	headers := map[string]string{
		":authority":        "api.anthropic.com",
		":method":           "POST",
		":path":             "/v1/messages",
		":scheme":           "http",
		"x-api-key":         "placeholder-not-a-real-key",
		"anthropic-version": "2023-06-01",
		"content-type":      "application/json",
		"content-length":    "1317",
		"accept":            "application/json",
		"user-agent":        "Anthropic/Python 0.69.0",
		"x-request-id":      "8d7c3f5e-2b1a-4c9d-9e8f-7a6b5c4d3e2f",
	}
	if withBeta {
		headers["anthropic-beta"] = clientBeta
	}
	addr := func(ip string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", 49152)},
		Destination: &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", 10000)},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:       "10939278634531484461",
				Method:   "POST",
				Path:     "/v1/messages",
				Host:     "api.anthropic.com",
				Scheme:   "http",
				Protocol: "HTTP/1.1",
				Size:     1317,
				Headers:  headers,
			},
		},
	}}
}

// encodeRequest marshals a request once, deterministically (map order
// fixed), for the load generator to send unchanged.
func encodeRequest(req *authv3.CheckRequest) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(req)
}

// Response errors found by checkOK. They are values so that checking costs
// no allocation.
var (
	errMalformed = errors.New("malformed CheckResponse")
	errNotOK     = errors.New("CheckResponse is not OK (status code ≠ 0 or no ok_response)")
)

// checkOK reports whether a serialized CheckResponse allows the request, as
// proto.Unmarshal would read it: status.code 0 (field 1, a google.rpc.Status
// whose field 1 is the code; repeated occurrences merge, the last code wins)
// and ok_response (field 3) as the last member of the http_response oneof
// (denied_response is field 2, error_response field 5). It walks the wire format and allocates
// nothing.
func checkOK(msg []byte) error {
	var code uint64
	okResponse := false
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return errMalformed
		}
		msg = msg[n:]
		if typ == protowire.BytesType && (num >= 1 && num <= 3 || num == 5) {
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return errMalformed
			}
			msg = msg[n:]
			switch num {
			case 1:
				c, present, err := statusCode(v)
				if err != nil {
					return err
				}
				if present {
					code = c
				}
			case 2, 5: // denied_response, error_response: the oneof's other members
				okResponse = false
			case 3:
				okResponse = true
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return errMalformed
		}
		msg = msg[n:]
	}
	if code != 0 || !okResponse {
		return errNotOK
	}
	return nil
}

// statusCode is the last code (field 1) in a serialized google.rpc.Status,
// and whether there was one.
func statusCode(msg []byte) (code uint64, present bool, err error) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return 0, false, errMalformed
		}
		msg = msg[n:]
		if num == 1 && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(msg)
			if n < 0 {
				return 0, false, errMalformed
			}
			code, present, msg = v, true, msg[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return 0, false, errMalformed
		}
		msg = msg[n:]
	}
	return code, present, nil
}

// errShape is wrapped when a server's OK response is not what the contract
// (or, for the baseline, its imitation) says.
var errShape = errors.New("unexpected CheckResponse")

// checkShape verifies one decoded response in full, before any load: OK,
// the credential header with its value prefix, anthropic-beta when wanted,
// both append fields on every header, and the removed header.
func checkShape(resp *authv3.CheckResponse, credHeader, credPrefix, removed string, wantBeta string) error {
	if resp.GetStatus().GetCode() != 0 || resp.GetOkResponse() == nil {
		return fmt.Errorf("%w: not OK (code %d)", errShape, resp.GetStatus().GetCode())
	}
	ok := resp.GetOkResponse()
	seen := map[string]string{}
	for _, h := range ok.GetHeaders() {
		if h.GetAppend() == nil || h.GetAppend().GetValue() || h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			return fmt.Errorf("%w: header %q lacks append=false with OVERWRITE_IF_EXISTS_OR_ADD", errShape, h.GetHeader().GetKey())
		}
		seen[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	if v, found := seen[credHeader]; !found || !strings.HasPrefix(v, credPrefix) || len(v) <= len(credPrefix) {
		return fmt.Errorf("%w: no %s header starting %q", errShape, credHeader, credPrefix)
	}
	if wantBeta != "" && seen["anthropic-beta"] != wantBeta {
		return fmt.Errorf("%w: anthropic-beta %q, want %q", errShape, seen["anthropic-beta"], wantBeta)
	}
	if !slices.Contains(ok.GetHeadersToRemove(), removed) {
		return fmt.Errorf("%w: %s is not removed", errShape, removed)
	}
	return nil
}
