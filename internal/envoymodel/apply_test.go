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
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	appendOrAdd      = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	addIfAbsent      = corev3.HeaderValueOption_ADD_IF_ABSENT
	overwriteOrAdd   = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	overwriteIfExist = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS
)

var actions = []corev3.HeaderValueOption_HeaderAppendAction{appendOrAdd, addIfAbsent, overwriteOrAdd, overwriteIfExist}

// effectiveAction is what each version makes of the two fields
// (docs/envoy-versions.md): every release reads `append` alone, and only the
// reverted #42878 fell back to append_action when `append` was absent.
// "append-existing" is appendCopy on a present header only.
func effectiveAction(v Version, a appendField, action corev3.HeaderValueOption_HeaderAppendAction) string {
	switch {
	case a == appendTrue:
		return "append-existing"
	case a == appendFalse || v != EnvoyDev42878:
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

// TestModelTellsFragileServersFromOurs: every release overwrites the
// client's Authorization whichever of the two fields a server sets, and even
// when it sets neither. Only the reverted #42878 read append_action, and
// there a server that set neither field (OPA, authservice) duplicated the
// bearer (envoyproxy/envoy#43310). extauthz sets both, so that no reading of
// the fields anyone has shipped or proposed depends on a default.
func TestModelTellsFragileServersFromOurs(t *testing.T) {
	cases := []struct {
		name       string
		option     *corev3.HeaderValueOption
		duplicates []Version // versions on which the client's value survives next to ours
	}{
		{"both fields (extauthz)", option("authorization", "Bearer server", appendFalse, overwriteOrAdd), nil},
		{"neither field (OPA, authservice)", option("authorization", "Bearer server", appendUnset, appendOrAdd), []Version{EnvoyDev42878}},
		{"append=false only (Envoy's example)", option("authorization", "Bearer server", appendFalse, appendOrAdd), nil},
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

// TestReleasesSetBeforeTheyAppend: a release applies every set, then every
// append; #42878 applied the list in order.
func TestReleasesSetBeforeTheyAppend(t *testing.T) {
	resp := allow(nil,
		option("x-a", "appended", appendTrue, appendOrAdd),
		option("x-a", "set", appendFalse, overwriteOrAdd))
	for _, v := range Versions() {
		h := NewHeaders(request(http.Header{"X-A": {"client"}}))
		filter(t, v, nil).Apply(h, resp)
		want := []string{"set,appended"}
		if v == EnvoyDev42878 {
			want = []string{"set"}
		}
		if got := h.Values("x-a"); !slices.Equal(got, want) {
			t.Errorf("%v: x-a %q, want %q", v, got, want)
		}
	}
}

func TestAppendToAHeaderThatIsNotInlineAddsAnEntry(t *testing.T) {
	h := NewHeaders(request(http.Header{"Anthropic-Beta": {"tools-2024-04-04"}}))
	filter(t, EnvoyDev42878, nil).Apply(h, allow(nil, option("anthropic-beta", "oauth-2025-04-20", appendUnset, appendOrAdd)))
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
		option("bad key", "v", appendFalse, overwriteOrAdd),
		option(":", "v", appendFalse, overwriteOrAdd),
		option("x-nul", "a\x00b", appendFalse, overwriteOrAdd),
		option("x-ctl", "a\x01b", appendFalse, overwriteOrAdd),
		option("x-del", "a\x7fb", appendFalse, overwriteOrAdd),
	}
	for _, o := range bad {
		for _, v := range Versions() {
			h := NewHeaders(request(http.Header{"Authorization": {"Bearer client"}}))
			before := h.Entries()
			out := filter(t, v, &ext_authzv3.ExtAuthz{ValidateMutations: true}).Apply(h, allow(nil, o))
			if out.Allowed || out.Status != http.StatusInternalServerError || out.Details != DetailsInvalid {
				t.Errorf("%v, %q: %+v, want a 500 ext_authz_invalid", v, o.GetHeader().GetKey(), out)
			}
			if !reflect.DeepEqual(h.Entries(), before) {
				t.Errorf("%v: a rejected response changed the request", v)
			}
		}
	}
	// Envoy's name check takes upper case (the key is lower-cased when
	// applied), its value check HTAB and obs-text.
	good := allow(nil,
		option("Authorization", "Bearer a", appendFalse, overwriteOrAdd),
		option("x-tab", "a\tb", appendFalse, overwriteOrAdd),
		option("x-obs", "caf\xe9", appendFalse, overwriteOrAdd))
	for _, validate := range []bool{false, true} {
		h := NewHeaders(request(nil))
		if out := filter(t, Envoy139, &ext_authzv3.ExtAuthz{ValidateMutations: validate}).Apply(h, good); !out.Allowed || len(out.Ignored) > 0 {
			t.Fatalf("validate=%v: %+v", validate, out)
		}
		if got := h.Values("authorization"); !slices.Equal(got, []string{"Bearer a"}) {
			t.Errorf("validate=%v: authorization %q", validate, got)
		}
	}
	// An invalid name to remove is only ignored.
	h := NewHeaders(request(http.Header{"X-Api-Key": {"k"}}))
	out := filter(t, Envoy139, &ext_authzv3.ExtAuthz{ValidateMutations: true}).Apply(h, allow([]string{"X-Api-Key", "bad key"}))
	if !out.Allowed || len(out.Ignored) != 1 {
		t.Errorf("invalid removals: allowed %v, ignored %q", out.Allowed, out.Ignored)
	}
	if _, ok := h.Get("x-api-key"); ok {
		t.Error("an upper-case removal was not applied")
	}
}

func TestValidCharacterSets(t *testing.T) {
	for name, want := range map[string]bool{
		"x-a": true, "X-A": true, ":path": true, "": true, "a!#$%&'*+-.^_`|~9": true,
		":": false, "a b": false, "a:b": false, "a\x00": false, "caf\xe9": false, "a/b": false,
	} {
		if validName(name) != want {
			t.Errorf("validName(%q) = %v", name, !want)
		}
	}
	for value, want := range map[string]bool{
		"": true, "a b\tc": true, "~!\"\\": true, "\x80\xff": true,
		"\x00": false, "\r": false, "\n": false, "\x1f": false, "\x7f": false,
	} {
		if validValue(value) != want {
			t.Errorf("validValue(%q) = %v", value, !want)
		}
	}
}

// TestInvalidAppendAction: releases never read append_action on request
// headers, so an unknown one is a set; they flag it only in
// response_headers_to_add. #42878 flagged it everywhere and applied it as a
// set; with validate_mutations a flagged response is a 500 on every version.
func TestInvalidAppendAction(t *testing.T) {
	bogus := corev3.HeaderValueOption_HeaderAppendAction(7)
	withMetadata := func(r *authv3.CheckResponse) *authv3.CheckResponse {
		r.DynamicMetadata = &structpb.Struct{Fields: map[string]*structpb.Value{"credential": structpb.NewStringValue("default")}}
		return r
	}
	onRequest := withMetadata(allow(nil, option("x-a", "1", appendUnset, bogus)))
	onResponse := withMetadata(allow(nil))
	onResponse.GetOkResponse().ResponseHeadersToAdd = []*corev3.HeaderValueOption{option("x-b", "1", appendUnset, bogus)}
	validating := &ext_authzv3.ExtAuthz{ValidateMutations: true}
	for _, v := range Versions() {
		flagged := v == EnvoyDev42878
		for _, validate := range []bool{false, true} {
			h := NewHeaders(request(nil))
			out := filter(t, v, &ext_authzv3.ExtAuthz{ValidateMutations: validate}).Apply(h, onRequest)
			if rejected := flagged && validate; rejected {
				if out.Status != http.StatusInternalServerError || out.DynamicMetadata != nil {
					t.Errorf("%v: %+v, want a 500 before the metadata is stored", v, out)
				}
				continue
			}
			if !out.Allowed || (len(out.Ignored) == 1) != flagged {
				t.Errorf("%v validate=%v: %+v", v, validate, out)
			}
			if got := h.Values("x-a"); !slices.Equal(got, []string{"1"}) {
				t.Errorf("%v: x-a %q, want it set", v, got)
			}
		}
		if out := filter(t, v, validating).Apply(NewHeaders(request(nil)), onResponse); out.Status != http.StatusInternalServerError {
			t.Errorf("%v: invalid response_headers_to_add under validate_mutations: %+v, want 500", v, out)
		}
		if out := filter(t, v, nil).Apply(NewHeaders(request(nil)), onResponse); !out.Allowed {
			t.Errorf("%v: invalid response_headers_to_add without validation: %+v, want allowed", v, out)
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
		want := Outcome{Status: 503, Header: http.Header{"Retry-After": {"3"}, "Content-Type": {"application/json"}}, Body: `{"type":"error"}`, Details: DetailsDenied}
		if !reflect.DeepEqual(out, want) {
			t.Errorf("%v: %+v, want %+v", v, out, want)
		}
		out = f.Apply(h, &authv3.CheckResponse{Status: &status.Status{Code: 7}})
		if out.Allowed || out.Status != http.StatusForbidden || out.Details != DetailsDenied {
			t.Errorf("%v: a bare denial: %+v, want 403", v, out)
		}
		out = f.Apply(h, deny(7, 0, "no"))
		if out.Status != http.StatusForbidden || out.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("%v: a denial without status: %+v, want 403 text/plain", v, out)
		}
		out = f.Apply(h, deny(7, 0, "", option("content-type", "application/json", appendFalse, overwriteOrAdd)))
		if _, ok := out.Header["Content-Type"]; ok {
			t.Errorf("%v: an empty body kept its content type: %+v", v, out)
		}
	}
	f := filter(t, Envoy139, &ext_authzv3.ExtAuthz{MaxDeniedResponseBodyBytes: 2})
	if out := f.Apply(NewHeaders(request(nil)), deny(7, 403, "long")); out.Body != "lo" {
		t.Errorf("body %q, want it cut at max_denied_response_body_bytes", out.Body)
	}
}

// TestDeniedHeaders: a release keeps repeated keys, drops append=true
// headers and validates the rest under validate_mutations; #42878 applied
// them as on requests.
func TestDeniedHeaders(t *testing.T) {
	resp := deny(7, 403, "no",
		option("set-cookie", "a=1", appendFalse, overwriteOrAdd),
		option("set-cookie", "b=2", appendFalse, overwriteOrAdd),
		option("x-appended", "1", appendTrue, appendOrAdd))
	for _, v := range Versions() {
		out := filter(t, v, nil).Apply(NewHeaders(request(nil)), resp)
		cookies, appended, ignored := []string{"a=1", "b=2"}, "", 1
		if v == EnvoyDev42878 {
			cookies, appended, ignored = []string{"b=2"}, "1", 0
		}
		if got := out.Header.Values("Set-Cookie"); !slices.Equal(got, cookies) {
			t.Errorf("%v: set-cookie %q, want %q", v, got, cookies)
		}
		if got := out.Header.Get("X-Appended"); got != appended || len(out.Ignored) != ignored {
			t.Errorf("%v: x-appended %q, ignored %q", v, got, out.Ignored)
		}
		bad := deny(7, 403, "no", option("x-a", "a\nb", appendFalse, overwriteOrAdd))
		if out := filter(t, v, &ext_authzv3.ExtAuthz{ValidateMutations: true}).Apply(NewHeaders(request(nil)), bad); out.Status != 500 || out.Details != DetailsInvalid {
			t.Errorf("%v: an invalid denied header under validate_mutations: %+v, want 500", v, out)
		}
	}
}

func TestErrorResponse(t *testing.T) {
	resp := &authv3.CheckResponse{
		Status: &status.Status{Code: 14},
		HttpResponse: &authv3.CheckResponse_ErrorResponse{ErrorResponse: &authv3.DeniedHttpResponse{
			Headers: []*corev3.HeaderValueOption{
				option("retry-after", "1", appendFalse, overwriteOrAdd),
				option("x-appended", "1", appendTrue, appendOrAdd),
			},
			Body: "down",
		}},
	}
	cfg := &ext_authzv3.ExtAuthz{StatusOnError: &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable}}
	if out := filter(t, Envoy136, cfg).Apply(NewHeaders(request(nil)), resp); out.Status != 403 || out.Body != "" || out.Details != DetailsDenied {
		t.Errorf("1.36 does not know error_response: %+v, want a bare 403 denial", out)
	}
	for _, v := range Versions()[1:] {
		out := filter(t, v, cfg).Apply(NewHeaders(request(nil)), resp)
		if out.Status != 503 || out.Body != "down" || out.Header.Get("Retry-After") != "1" || out.Header.Get("X-Appended") != "1" || out.Details != DetailsError {
			t.Errorf("%v error_response: %+v, want status_on_error 503 with its headers and body", v, out)
		}
		// Under validate_mutations an invalid header costs the custom reply.
		bad := proto.Clone(resp).(*authv3.CheckResponse)
		bad.GetErrorResponse().Headers[0].Header.Value = "1\r\n"
		bad.GetErrorResponse().Status = &typev3.HttpStatus{Code: typev3.StatusCode_BadGateway}
		strict := proto.Clone(cfg).(*ext_authzv3.ExtAuthz)
		strict.ValidateMutations = true
		out = filter(t, v, strict).Apply(NewHeaders(request(nil)), bad)
		if out.Status != 503 || out.Body != "" || len(out.Header) != 0 || out.Details != DetailsError {
			t.Errorf("%v: an invalid error header: %+v, want the generic 503", v, out)
		}
		failOpen := proto.Clone(cfg).(*ext_authzv3.ExtAuthz)
		failOpen.FailureModeAllow = true
		if out := filter(t, v, failOpen).Apply(NewHeaders(request(nil)), resp); !out.Allowed {
			t.Errorf("%v: error_response with failure_mode_allow: %+v, want allowed", v, out)
		}
	}
}

func TestOnError(t *testing.T) {
	if out := filter(t, Envoy139, nil).OnError(NewHeaders(request(nil))); out.Allowed || out.Status != 403 || out.Details != DetailsError {
		t.Errorf("default: %+v, want 403 ext_authz_error", out)
	}
	cfg := &ext_authzv3.ExtAuthz{StatusOnError: &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable}}
	if out := filter(t, Envoy139, cfg).OnError(NewHeaders(request(nil))); out.Allowed || out.Status != 503 {
		t.Errorf("status_on_error 503: %+v", out)
	}
	// Fail-open lets the client's key through untouched: the leak the
	// project's configs rule out.
	cfg = &ext_authzv3.ExtAuthz{FailureModeAllow: true, FailureModeAllowHeaderAdd: true}
	h := NewHeaders(request(http.Header{"X-Api-Key": {"client"}, "X-Envoy-Auth-Failure-Mode-Allowed": {"client"}}))
	if out := filter(t, Envoy139, cfg).OnError(h); !out.Allowed {
		t.Errorf("fail-open: %+v", out)
	}
	if k, _ := h.Get("x-api-key"); k != "client" {
		t.Error("fail-open changed the client's key")
	}
	if got := h.Values("x-envoy-auth-failure-mode-allowed"); !slices.Equal(got, []string{"client", "true"}) {
		t.Errorf("failure_mode_allow_header_add: %q, want the client's value and Envoy's added", got)
	}
}

// TestDynamicMetadata: the filter stores the response's dynamic_metadata
// whatever the status — the deprecated OkHttpResponse.dynamic_metadata
// overriding it — unless ingestion is disabled; a failed call stores none.
func TestDynamicMetadata(t *testing.T) {
	md := func(generation float64) *structpb.Struct {
		return &structpb.Struct{Fields: map[string]*structpb.Value{
			"credential": structpb.NewStringValue("default"), "generation": structpb.NewNumberValue(generation),
		}}
	}
	ok := allow(nil)
	ok.DynamicMetadata = md(3)
	denied := deny(7, 403, "no")
	denied.DynamicMetadata = md(4)
	deprecated := allow(nil)
	deprecated.DynamicMetadata, deprecated.GetOkResponse().DynamicMetadata = md(5), md(6)
	for _, v := range Versions() {
		f := filter(t, v, nil)
		for _, c := range []struct {
			resp *authv3.CheckResponse
			want *structpb.Struct
		}{{ok, md(3)}, {denied, md(4)}, {deprecated, md(6)}, {allow(nil), nil}} {
			out := f.Apply(NewHeaders(request(nil)), c.resp)
			if !proto.Equal(out.DynamicMetadata, c.want) {
				t.Errorf("%v: stored %v, want %v", v, out.DynamicMetadata, c.want)
			}
		}
		if out := f.OnError(NewHeaders(request(nil))); out.DynamicMetadata != nil {
			t.Errorf("%v: a failed call stored metadata", v)
		}
		off := filter(t, v, &ext_authzv3.ExtAuthz{EnableDynamicMetadataIngestion: wrapperspb.Bool(false)})
		if out := off.Apply(NewHeaders(request(nil)), ok); out.DynamicMetadata != nil {
			t.Errorf("%v: enable_dynamic_metadata_ingestion=false stored metadata", v)
		}
	}
}

func TestNewFilterRefusesWhatItDoesNotModel(t *testing.T) {
	for name, c := range map[string]struct {
		v   Version
		cfg *ext_authzv3.ExtAuthz
	}{
		"unknown version": {Version(9), &ext_authzv3.ExtAuthz{}},
		"http service":    {Envoy139, &ext_authzv3.ExtAuthz{Services: &ext_authzv3.ExtAuthz_HttpService{HttpService: &ext_authzv3.HttpService{}}}},
	} {
		if _, err := NewFilter(c.v, c.cfg); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	if Version(9).String() != "Version(9)" || Envoy140.String() != "envoy-1.40-inferred" {
		t.Error("Version names")
	}
}
