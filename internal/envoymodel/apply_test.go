package envoymodel

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
)

const (
	appendOrAdd      = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	addIfAbsent      = corev3.HeaderValueOption_ADD_IF_ABSENT
	overwriteOrAdd   = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	overwriteIfExist = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS
)

var actions = []corev3.HeaderValueOption_HeaderAppendAction{appendOrAdd, addIfAbsent, overwriteOrAdd, overwriteIfExist}

// effectiveAction is the reference's table (section 1.3) of what each
// version makes of the two fields; "append-existing" is the 1.36 append,
// which never adds.
func effectiveAction(v Version, a appendField, action corev3.HeaderValueOption_HeaderAppendAction) string {
	switch {
	case v == Envoy136 && a == appendTrue:
		return "append-existing"
	case v == Envoy136:
		return overwriteOrAdd.String()
	case v == EnvoyCurrent && a == appendTrue:
		return appendOrAdd.String()
	case v == EnvoyCurrent && a == appendFalse:
		return overwriteOrAdd.String()
	}
	return action.String()
}

// after is the authorization an upstream sees for each effective action
// when the client sent "Bearer client" (or nothing) and the response
// carries "Bearer server". authorization is an inline header: an append
// comma-joins.
var after = map[string]map[bool][]string{
	"append-existing":         {true: {"Bearer client,Bearer server"}, false: nil},
	appendOrAdd.String():      {true: {"Bearer client,Bearer server"}, false: {"Bearer server"}},
	addIfAbsent.String():      {true: {"Bearer client"}, false: {"Bearer server"}},
	overwriteOrAdd.String():   {true: {"Bearer server"}, false: {"Bearer server"}},
	overwriteIfExist.String(): {true: {"Bearer server"}, false: nil},
}

// TestAppendSemanticsMatrix applies every combination of the two append
// fields, on every version, to a request with and without a client
// Authorization.
func TestAppendSemanticsMatrix(t *testing.T) {
	for _, v := range Versions() {
		f := filter(t, v, nil)
		for _, a := range []appendField{appendUnset, appendTrue, appendFalse} {
			for _, action := range actions {
				for _, present := range []bool{true, false} {
					name := fmt.Sprintf("%v/%v/%v/client-authorization=%v", v, a, action, present)
					hdr := http.Header{}
					if present {
						hdr.Set("Authorization", "Bearer client")
					}
					h := NewHeaders(request(hdr))
					out := f.Apply(h, allow(nil, option("authorization", "Bearer server", a, action)))
					if !out.Allowed || len(out.Ignored) > 0 {
						t.Fatalf("%s: %+v", name, out)
					}
					want := after[effectiveAction(v, a, action)][present]
					if got := h.Values("authorization"); !slices.Equal(got, want) {
						t.Errorf("%s: authorization %q, want %q", name, got, want)
					}
				}
			}
		}
	}
}

// TestModelTellsFragileServersFromOurs: append_action
// OVERWRITE_IF_EXISTS_OR_ADD overwrites the client's Authorization on every
// version, with append=false (what extauthz sends) or without it (Pomerium);
// the shortcuts that leave append_action at its default each break on one.
func TestModelTellsFragileServersFromOurs(t *testing.T) {
	cases := []struct {
		name       string
		option     *corev3.HeaderValueOption
		duplicates []Version // versions on which the client's value survives next to ours
	}{
		{"both fields (extauthz)", option("authorization", "Bearer server", appendFalse, overwriteOrAdd), nil},
		{"neither field (OPA, authservice)", option("authorization", "Bearer server", appendUnset, appendOrAdd), []Version{Envoy1370, EnvoyCurrent}},
		{"append=false only (Envoy's example)", option("authorization", "Bearer server", appendFalse, appendOrAdd), []Version{Envoy1370}},
		{"append_action only (Pomerium)", option("authorization", "Bearer server", appendUnset, overwriteOrAdd), nil},
	}
	for _, c := range cases {
		for _, v := range Versions() {
			h := NewHeaders(request(http.Header{"Authorization": {"Bearer client"}}))
			filter(t, v, nil).Apply(h, allow([]string{"x-api-key"}, c.option))
			want := []string{"Bearer server"}
			if slices.Contains(c.duplicates, v) {
				want = []string{"Bearer client,Bearer server"}
			}
			if got := h.Values("authorization"); !slices.Equal(got, want) {
				t.Errorf("%s on %v: authorization %q, want %q", c.name, v, got, want)
			}
		}
	}
}

func TestAppendToAHeaderThatIsNotInlineAddsAnEntry(t *testing.T) {
	h := NewHeaders(request(http.Header{"Anthropic-Beta": {"tools-2024-04-04"}}))
	filter(t, Envoy1370, nil).Apply(h, allow(nil, option("anthropic-beta", "oauth-2025-04-20", appendUnset, appendOrAdd)))
	if got := h.Values("anthropic-beta"); !slices.Equal(got, []string{"tools-2024-04-04", "oauth-2025-04-20"}) {
		t.Errorf("anthropic-beta %q, want two entries", got)
	}
}

func TestRemovalsComeLast(t *testing.T) {
	for _, v := range Versions() {
		h := NewHeaders(request(http.Header{"X-Api-Key": {"client"}, "Authorization": {"Bearer client"}}))
		out := filter(t, v, nil).Apply(h, allow([]string{"X-Api-Key", "authorization"},
			option("x-api-key", "server", appendFalse, overwriteOrAdd)))
		if !out.Allowed {
			t.Fatalf("%v: %+v", v, out)
		}
		if _, ok := h.Get("x-api-key"); ok {
			t.Errorf("%v: x-api-key set and removed in one response survived", v)
		}
		if _, ok := h.Get("authorization"); ok {
			t.Errorf("%v: authorization not removed (removal keys are lower-cased)", v)
		}
	}
}

func TestPseudoHeadersAndHostAreUntouchable(t *testing.T) {
	for _, v := range Versions() {
		r := request(nil)
		h := NewHeaders(r)
		before := h.Entries()
		out := filter(t, v, nil).Apply(h, allow([]string{":path", ":authority", "Host"},
			option(":path", "/admin", appendFalse, overwriteOrAdd),
			option(":AUTHORITY", "evil.example", appendFalse, overwriteOrAdd),
			option("host", "evil.example", appendUnset, appendOrAdd)))
		if !out.Allowed || len(out.Ignored) != 6 {
			t.Errorf("%v: allowed %v, ignored %q; want allowed with 6 ignored", v, out.Allowed, out.Ignored)
		}
		if !reflect.DeepEqual(h.Entries(), before) {
			t.Errorf("%v: headers changed:\n%q\nfrom\n%q", v, h.Entries(), before)
		}
	}
}

func TestValidateMutations(t *testing.T) {
	bad := []*corev3.HeaderValueOption{
		option("authorization", "Bearer a\r\nx-evil: 1", appendFalse, overwriteOrAdd),
		option("Authorization", "Bearer a", appendFalse, overwriteOrAdd),
		option("bad key", "v", appendFalse, overwriteOrAdd),
		option("x-nul", "a\x00b", appendFalse, overwriteOrAdd),
	}
	for _, o := range bad {
		for _, v := range Versions() {
			h := NewHeaders(request(http.Header{"Authorization": {"Bearer client"}}))
			before := h.Entries()
			out := filter(t, v, &ext_authzv3.ExtAuthz{ValidateMutations: true}).Apply(h, allow(nil, o))
			if out.Allowed || out.Status != http.StatusInternalServerError {
				t.Errorf("%v, %q: allowed %v status %d, want a 500", v, o.GetHeader().GetKey(), out.Allowed, out.Status)
			}
			if !reflect.DeepEqual(h.Entries(), before) {
				t.Errorf("%v: a rejected response changed the request", v)
			}
		}
	}
	// Without validation Envoy lower-cases the key and applies the value.
	h := NewHeaders(request(nil))
	if out := filter(t, EnvoyCurrent, nil).Apply(h, allow(nil, bad[1])); !out.Allowed {
		t.Fatalf("%+v", out)
	}
	if got := h.Values("authorization"); !slices.Equal(got, []string{"Bearer a"}) {
		t.Errorf("authorization %q", got)
	}
	// An invalid name to remove is only ignored.
	h = NewHeaders(request(http.Header{"X-Api-Key": {"k"}}))
	out := filter(t, EnvoyCurrent, &ext_authzv3.ExtAuthz{ValidateMutations: true}).Apply(h, allow([]string{"X-Api-Key", "bad key"}))
	if !out.Allowed || len(out.Ignored) != 2 {
		t.Errorf("invalid removals: allowed %v, ignored %q", out.Allowed, out.Ignored)
	}
	if _, ok := h.Get("x-api-key"); !ok {
		t.Error("an upper-case removal passed validate_mutations")
	}
}

func TestInvalidAppendAction(t *testing.T) {
	o := option("x-a", "1", appendUnset, corev3.HeaderValueOption_HeaderAppendAction(7))
	h := NewHeaders(request(nil))
	if out := filter(t, Envoy136, nil).Apply(h, allow(nil, o)); !out.Allowed || len(out.Ignored) != 0 {
		t.Errorf("1.36 reads no append_action: %+v", out)
	}
	for _, v := range []Version{Envoy1370, EnvoyCurrent} {
		h := NewHeaders(request(nil))
		if out := filter(t, v, nil).Apply(h, allow(nil, o)); !out.Allowed || len(out.Ignored) != 1 {
			t.Errorf("%v: %+v, want the entry ignored", v, out)
		}
		if _, ok := h.Get("x-a"); ok {
			t.Errorf("%v: an invalid action was applied", v)
		}
		if out := filter(t, v, &ext_authzv3.ExtAuthz{ValidateMutations: true}).Apply(h, allow(nil, o)); out.Status != http.StatusInternalServerError {
			t.Errorf("%v with validate_mutations: status %d, want 500", v, out.Status)
		}
	}
}

func TestDeniedResponseIsTheLocalReply(t *testing.T) {
	for _, v := range Versions() {
		f := filter(t, v, nil)
		h := NewHeaders(request(nil))
		out := f.Apply(h, deny(14, typev3.StatusCode_ServiceUnavailable, `{"type":"error"}`,
			option("retry-after", "3", appendFalse, overwriteOrAdd),
			option("content-type", "application/json", appendFalse, overwriteOrAdd)))
		want := Outcome{Status: 503, Header: http.Header{"Retry-After": {"3"}, "Content-Type": {"application/json"}}, Body: `{"type":"error"}`}
		if !reflect.DeepEqual(out, want) {
			t.Errorf("%v: %+v, want %+v", v, out, want)
		}
		out = f.Apply(h, &authv3.CheckResponse{Status: &status.Status{Code: 7}})
		if out.Allowed || out.Status != http.StatusForbidden {
			t.Errorf("%v: a bare denial: %+v, want 403", v, out)
		}
		out = f.Apply(h, deny(7, 0, "no"))
		if out.Status != http.StatusForbidden || out.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("%v: a denial without status: %+v, want 403 text/plain", v, out)
		}
	}
	f := filter(t, EnvoyCurrent, &ext_authzv3.ExtAuthz{MaxDeniedResponseBodyBytes: 2})
	if out := f.Apply(NewHeaders(request(nil)), deny(7, 403, "long")); out.Body != "lo" {
		t.Errorf("body %q, want it cut at max_denied_response_body_bytes", out.Body)
	}
}

func TestErrorResponse(t *testing.T) {
	resp := &authv3.CheckResponse{
		Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_ErrorResponse{ErrorResponse: &authv3.DeniedHttpResponse{
			Headers: []*corev3.HeaderValueOption{option("retry-after", "1", appendFalse, overwriteOrAdd)}, Body: "down",
		}},
	}
	cfg := &ext_authzv3.ExtAuthz{StatusOnError: &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable}}
	if out := filter(t, Envoy136, cfg).Apply(NewHeaders(request(nil)), resp); out.Status != 403 || out.Body != "" {
		t.Errorf("1.36 does not know error_response: %+v, want a bare 403", out)
	}
	out := filter(t, EnvoyCurrent, cfg).Apply(NewHeaders(request(nil)), resp)
	if out.Status != 503 || out.Body != "down" || out.Header.Get("Retry-After") != "1" {
		t.Errorf("error_response: %+v, want status_on_error 503 with its headers and body", out)
	}
	cfg.FailureModeAllow = true
	if out := filter(t, EnvoyCurrent, cfg).Apply(NewHeaders(request(nil)), resp); !out.Allowed {
		t.Errorf("error_response with failure_mode_allow: %+v, want allowed", out)
	}
}

func TestOnError(t *testing.T) {
	if out := filter(t, EnvoyCurrent, nil).OnError(NewHeaders(request(nil))); out.Allowed || out.Status != 403 {
		t.Errorf("default: %+v, want 403", out)
	}
	cfg := &ext_authzv3.ExtAuthz{StatusOnError: &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable}}
	if out := filter(t, EnvoyCurrent, cfg).OnError(NewHeaders(request(nil))); out.Allowed || out.Status != 503 {
		t.Errorf("status_on_error 503: %+v", out)
	}
	// Fail-open lets the client's key through untouched: the leak the
	// project's configs rule out.
	cfg = &ext_authzv3.ExtAuthz{FailureModeAllow: true, FailureModeAllowHeaderAdd: true}
	h := NewHeaders(request(http.Header{"X-Api-Key": {"client"}}))
	if out := filter(t, EnvoyCurrent, cfg).OnError(h); !out.Allowed {
		t.Errorf("fail-open: %+v", out)
	}
	if k, _ := h.Get("x-api-key"); k != "client" {
		t.Error("fail-open changed the client's key")
	}
	if v, _ := h.Get("x-envoy-auth-failure-mode-allowed"); v != "true" {
		t.Error("failure_mode_allow_header_add added nothing")
	}
}

func TestNewFilterRefusesWhatItDoesNotModel(t *testing.T) {
	for name, c := range map[string]struct {
		v   Version
		cfg *ext_authzv3.ExtAuthz
	}{
		"unknown version": {Version(9), &ext_authzv3.ExtAuthz{}},
		"http service":    {EnvoyCurrent, &ext_authzv3.ExtAuthz{Services: &ext_authzv3.ExtAuthz_HttpService{HttpService: &ext_authzv3.HttpService{}}}},
	} {
		if _, err := NewFilter(c.v, c.cfg); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	if Version(9).String() != "Version(9)" || EnvoyCurrent.String() != "envoy-current" {
		t.Error("Version names")
	}
}
