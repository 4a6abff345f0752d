package feedback

import (
	"math"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestIsExtAuthzNamespace(t *testing.T) {
	for ns, want := range map[string]bool{
		"envoy.filters.http.ext_authz":                   true,
		"envoy.filters.http.ext_authz/":                  true,
		"envoy.filters.http.ext_authz/extauth/httproute": true,
		"envoy.filters.http.ext_authzX":                  false,
		"envoy.filters.http.ext_auth":                    false,
		"envoy.filters.network.ext_authz":                false,
		"ENVOY.FILTERS.HTTP.EXT_AUTHZ":                   false,
		"":                                               false,
		"x/envoy.filters.http.ext_authz":                 false,
	} {
		if got := isExtAuthzNamespace(ns); got != want {
			t.Errorf("isExtAuthzNamespace(%q) = %v, want %v", ns, got, want)
		}
	}
}

// structOf builds a Struct or fails the test.
func structOf(t *testing.T, fields map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(fields)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStampOf(t *testing.T) {
	good := map[string]any{"credential": "team-a", "generation": 7.0}
	cases := []struct {
		name   string
		md     map[string]map[string]any
		want   stamp
		reason string
	}{
		{"canonical", map[string]map[string]any{extauthzNamespace: good}, stamp{"team-a", 7}, ""},
		{"gateway name", map[string]map[string]any{extauthzNamespace + "/ns/policy/0": good}, stamp{"team-a", 7}, ""},
		{"extra fields", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": 1.0, "ext_authz_duration": 4.0}}, stamp{"a", 1}, ""},
		{"zero generation", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": 0.0}}, stamp{"a", 0}, ""},
		{"largest generation", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": float64(1 << 53)}}, stamp{"a", 1 << 53}, ""},
		{"two that agree", map[string]map[string]any{extauthzNamespace: good, extauthzNamespace + "/x": good}, stamp{"team-a", 7}, ""},
		{"another filter of that name", map[string]map[string]any{extauthzNamespace: {"ext_authz_duration": 4.0}, extauthzNamespace + "/x": good}, stamp{"team-a", 7}, ""},
		{"nil metadata", nil, stamp{}, ReasonNoMetadata},
		{"other namespace", map[string]map[string]any{"envoy.filters.http.rbac": good}, stamp{}, ReasonNoMetadata},
		{"no credential field", map[string]map[string]any{extauthzNamespace: {"generation": 1.0}}, stamp{}, ReasonNoMetadata},
		{"two that disagree", map[string]map[string]any{extauthzNamespace: good, extauthzNamespace + "/x": {"credential": "team-b", "generation": 7.0}}, stamp{}, ReasonMalformed},
		{"one good one bad", map[string]map[string]any{extauthzNamespace: good, extauthzNamespace + "/x": {"credential": 1.0, "generation": 7.0}}, stamp{}, ReasonMalformed},
		{"credential not a string", map[string]map[string]any{extauthzNamespace: {"credential": 1.0, "generation": 1.0}}, stamp{}, ReasonMalformed},
		{"empty credential", map[string]map[string]any{extauthzNamespace: {"credential": "", "generation": 1.0}}, stamp{}, ReasonMalformed},
		{"no generation", map[string]map[string]any{extauthzNamespace: {"credential": "a"}}, stamp{}, ReasonMalformed},
		{"generation a string", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": "1"}}, stamp{}, ReasonMalformed},
		{"generation negative", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": -1.0}}, stamp{}, ReasonMalformed},
		{"generation fractional", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": 1.5}}, stamp{}, ReasonMalformed},
		{"generation over 2^53", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": float64(1<<53) * 2}}, stamp{}, ReasonMalformed},
		{"generation infinite", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": math.Inf(1)}}, stamp{}, ReasonMalformed},
		{"generation null", map[string]map[string]any{extauthzNamespace: {"credential": "a", "generation": nil}}, stamp{}, ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var md *corev3.Metadata
			if c.md != nil {
				md = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
				for ns, f := range c.md {
					md.FilterMetadata[ns] = structOf(t, f)
				}
			}
			got, reason := stampOf(md)
			if got != c.want || reason != c.reason {
				t.Errorf("stampOf = %+v, %q; want %+v, %q", got, reason, c.want, c.reason)
			}
		})
	}
}

// TestStampOfNaN builds the NaN generation by hand: structpb.NewStruct
// accepts it, but the case deserves its own name.
func TestStampOfNaN(t *testing.T) {
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{extauthzNamespace: {Fields: map[string]*structpb.Value{
		"credential": structpb.NewStringValue("a"), "generation": structpb.NewNumberValue(math.NaN()),
	}}}}
	if _, reason := stampOf(md); reason != ReasonMalformed {
		t.Errorf("reason = %q, want %q", reason, ReasonMalformed)
	}
}

func TestClassOf(t *testing.T) {
	for code, want := range map[uint32]string{
		200: ClassOther, 204: ClassOther, 400: ClassOther, 401: Class401, 403: Class403,
		404: ClassOther, 429: Class429, 499: ClassOther, 500: Class5xx, 503: Class5xx, 599: Class5xx,
		600: ClassOther, 999: ClassOther,
	} {
		if got := classOf(code); got != want {
			t.Errorf("classOf(%d) = %q, want %q", code, got, want)
		}
	}
}
