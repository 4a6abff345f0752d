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

	"extauthz/internal/authz"
)

// checkMethod is the ext_authz method every server is driven through.
const checkMethod = "/envoy.service.auth.v3.Authorization/Check"

// clientBeta is the anthropic-beta a client sends in the -client-beta variant.
const clientBeta = "prompt-caching-2024-07-31"

// envoyCheckRequest is the CheckRequest an Envoy sidecar sends for one call
// from an Anthropic SDK that holds a placeholder key: the fields Envoy fills
// for an HTTP/1.1 downstream, about half a kilobyte. A credential, when
// given, goes in context_extensions as a route's
// ExtAuthzPerRoute.check_settings puts it there.
func envoyCheckRequest(withBeta bool, credential string) *authv3.CheckRequest {
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
	var extensions map[string]string
	if credential != "" {
		extensions = map[string]string{authz.CredentialExtension: credential}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		ContextExtensions: extensions,
		Source:            &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", 49152)},
		Destination:       &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", 10000)},
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

// requestFor is the CheckRequest kind is driven with: the wif-16 server's
// selects selectedCredential through context_extensions; the others carry
// no extension, as a single credential needs none.
func requestFor(kind string, withBeta bool) *authv3.CheckRequest {
	if kind == serverWIFMany {
		return envoyCheckRequest(withBeta, selectedCredential)
	}
	return envoyCheckRequest(withBeta, "")
}

// encodeRequest marshals a request once, deterministically (map order
// fixed), for the load generator to send unchanged.
func encodeRequest(req *authv3.CheckRequest) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(req)
}

// errShape is wrapped when a server's OK response is not what the contract
// (or, for the baseline, its imitation) says.
var errShape = errors.New("unexpected CheckResponse")

// Response errors found by okWant.check. They are values so that checking
// costs no allocation.
var (
	errMalformed    = errors.New("malformed CheckResponse")
	errNotOK        = errors.New("CheckResponse is not OK (status code ≠ 0 or no ok_response)")
	errNoCredential = fmt.Errorf("%w: OK without the credential header", errShape)
	errNotRemoved   = fmt.Errorf("%w: OK without the header to remove", errShape)
	errNoBeta       = fmt.Errorf("%w: OK without the expected anthropic-beta", errShape)
	errNotSelected  = fmt.Errorf("%w: OK without dynamic_metadata naming the credential the request selects", errShape)
)

// okWant is what every OK response of one server must carry: the credential
// header with a value that starts with prefix and goes on, the header it
// removes, anthropic-beta equal to beta when beta is set, and, when
// credential is set, dynamic_metadata whose "credential" is that name — the
// credential whose token was injected. The benchmark checks it on every
// response under load, so a server that answers OK without doing its job (a
// stale or empty pre-encoded answer after a token refresh, another
// credential than the request selects) fails instead of looking fast.
type okWant struct{ header, prefix, removed, beta, credential string }

// wantFor is what kind's OK responses carry: the contract's, or for the
// baseline its imitation of the WIF shape (which never merges a client beta
// and carries no dynamic metadata). extauthz names its only credential
// "default".
func wantFor(kind string, clientBetaSent bool) okWant {
	credential := "default"
	switch kind {
	case serverStatic:
		return okWant{header: "x-api-key", prefix: "sk-ant-api03-", removed: "authorization", credential: credential}
	case serverBaseline:
		credential = ""
	case serverWIFMany:
		credential = selectedCredential
	}
	beta := "oauth-2025-04-20"
	if clientBetaSent && isWIF(kind) {
		beta = clientBeta + "," + beta
	}
	return okWant{header: "authorization", prefix: "Bearer sk-ant-oat01-", removed: "x-api-key", beta: beta, credential: credential}
}

// okFound is what check has seen of an okWant: in the current ok_response,
// and in dynamic_metadata.
type okFound struct{ credential, removed, beta, selected bool }

// check reports whether a serialized CheckResponse allows the request and
// carries what w wants, as proto.Unmarshal would read it: status.code 0
// (field 1, a google.rpc.Status whose field 1 is the code; repeated
// occurrences merge, the last code wins) and ok_response (field 3) as the
// last member of the http_response oneof (denied_response is field 2,
// error_response field 5; ok_response occurring again merges into the one
// before, after another member it starts afresh), and dynamic_metadata
// (field 4) when w names a credential. It walks the wire format and
// allocates nothing.
func (w okWant) check(msg []byte) error {
	var code uint64
	okResponse := false
	var got okFound
	var selected bool
	err := eachField(msg, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			return eachField(b, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				if num == 1 && typ == protowire.VarintType {
					code = x
				}
				return nil
			})
		case 2, 5: // denied_response, error_response: the oneof's other members
			okResponse = false
		case 3:
			if !okResponse {
				got = okFound{}
			}
			okResponse = true
			return w.scan(b, &got)
		case 4:
			if w.credential != "" {
				return w.scanMetadata(b, &selected)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case code != 0 || !okResponse:
		return errNotOK
	case !got.credential:
		return errNoCredential
	case !got.removed:
		return errNotRemoved
	case w.beta != "" && !got.beta:
		return errNoBeta
	case w.credential != "" && !selected:
		return errNotSelected
	}
	return nil
}

// scanMetadata reads a serialized google.protobuf.Struct (dynamic_metadata;
// repeated occurrences merge, so they are read in turn) and sets selected
// for each entry of its fields map (field 1) keyed "credential": whether the
// value is the string w.credential. A later entry with the same key replaces
// the earlier one, as in a map. Inside an entry the last key (field 1) wins,
// and the value (field 2, a google.protobuf.Value, merged when repeated)
// holds what the last member of its kind oneof set: fields 1 to 6, each
// counted only with its own wire type (another is an unknown field), a
// string being field 3.
func (w okWant) scanMetadata(msg []byte, selected *bool) error {
	return eachField(msg, func(num protowire.Number, typ protowire.Type, entry []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		var key, str []byte
		var kind protowire.Number
		err := eachField(entry, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
			switch {
			case typ != protowire.BytesType:
			case num == 1:
				key = b
			case num == 2:
				return eachField(b, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
					if num >= 1 && num <= 6 && typ == valueKindTypes[num] {
						kind = num
						if num == 3 {
							str = b
						}
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if string(key) == authz.MetadataCredential {
			*selected = kind == 3 && string(str) == w.credential
		}
		return nil
	})
}

// valueKindTypes are the wire types of google.protobuf.Value's kind
// members: null_value (an enum), number_value (a double), string_value,
// bool_value, struct_value, list_value.
var valueKindTypes = [7]protowire.Type{1: protowire.VarintType, 2: protowire.Fixed64Type, 3: protowire.BytesType,
	4: protowire.VarintType, 5: protowire.BytesType, 6: protowire.BytesType}

// scan records in got what a serialized OkHttpResponse holds of w: its
// headers (field 2, HeaderValueOption) and headers_to_remove (field 5).
func (w okWant) scan(msg []byte, got *okFound) error {
	return eachField(msg, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 2:
			key, value, err := headerOf(b)
			if err != nil {
				return err
			}
			if string(key) == w.header && len(value) > len(w.prefix) && string(value[:len(w.prefix)]) == w.prefix {
				got.credential = true
			}
			if w.beta != "" && string(key) == "anthropic-beta" && string(value) == w.beta {
				got.beta = true
			}
		case 5:
			if string(b) == w.removed {
				got.removed = true
			}
		}
		return nil
	})
}

// headerOf is the key and value of a serialized HeaderValueOption: its
// header (field 1), a HeaderValue with key (1) and value (2). Repeated
// occurrences merge, so the last key and the last value win.
func headerOf(msg []byte) (key, value []byte, err error) {
	err = eachField(msg, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		return eachField(b, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
			switch {
			case typ != protowire.BytesType:
			case num == 1:
				key = b
			case num == 2:
				value = b
			}
			return nil
		})
	})
	return key, value, err
}

// eachField calls f with every field of a serialized message: its number,
// its wire type, and the contents of a length-delimited field or the value
// of a varint. Bytes that are not a message give errMalformed.
func eachField(msg []byte, f func(num protowire.Number, typ protowire.Type, b []byte, x uint64) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return errMalformed
		}
		msg = msg[n:]
		var b []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			b, n = protowire.ConsumeBytes(msg)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(msg)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return errMalformed
		}
		msg = msg[n:]
		if err := f(num, typ, b, x); err != nil {
			return err
		}
	}
	return nil
}

// checkShape verifies one decoded response in full, before any load: OK,
// what w wants, and both append fields on every header.
func checkShape(resp *authv3.CheckResponse, w okWant) error {
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
	if v, found := seen[w.header]; !found || !strings.HasPrefix(v, w.prefix) || len(v) <= len(w.prefix) {
		return fmt.Errorf("%w: no %s header starting %q", errShape, w.header, w.prefix)
	}
	if w.beta != "" && seen["anthropic-beta"] != w.beta {
		return fmt.Errorf("%w: anthropic-beta %q, want %q", errShape, seen["anthropic-beta"], w.beta)
	}
	if !slices.Contains(ok.GetHeadersToRemove(), w.removed) {
		return fmt.Errorf("%w: %s is not removed", errShape, w.removed)
	}
	if got := resp.GetDynamicMetadata().GetFields()[authz.MetadataCredential].GetStringValue(); w.credential != "" && got != w.credential {
		return fmt.Errorf("%w: dynamic_metadata names credential %q, want %q", errShape, got, w.credential)
	}
	return nil
}
