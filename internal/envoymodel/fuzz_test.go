package envoymodel

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
)

// FuzzApply applies one arbitrary mutation and removal to a request that
// already carries the header, on every version, with and without
// validate_mutations. It must never panic; pseudo-headers and host never
// change; and a mutation with both append=false and
// OVERWRITE_IF_EXISTS_OR_ADD gives the same headers on every version.
func FuzzApply(f *testing.F) {
	f.Add("authorization", "Bearer server", "Bearer client", uint8(2), int32(2), "x-api-key")
	f.Add("authorization", "Bearer server", "Bearer client", uint8(0), int32(0), "")
	f.Add(":path", "/x", "", uint8(1), int32(3), "host")
	f.Add("X-A", "v\r\n", "w", uint8(1), int32(9), ":authority")
	f.Fuzz(func(t *testing.T, key, value, existing string, appendMode uint8, action int32, remove string) {
		o := option(key, value, appendField(appendMode%3), corev3.HeaderValueOption_HeaderAppendAction(action))
		r := request(nil)
		results := map[Version][]Entry{}
		for _, validate := range []bool{false, true} {
			for _, v := range Versions() {
				h := NewHeaders(r)
				if existing != "" && validName(strings.ToLower(key)) {
					h.add(strings.ToLower(key), existing)
				}
				before := h.Entries()
				out := filter(t, v, &ext_authzv3.ExtAuthz{ValidateMutations: validate}).Apply(h, allow([]string{remove}, o))
				for _, e := range before {
					if untouchable(e.Key) && !only(h.Values(e.Key), e.Value) {
						t.Fatalf("%v changed %s", v, e.Key)
					}
				}
				if !out.Allowed && out.Status != http.StatusInternalServerError {
					t.Fatalf("%v: an OK response gave status %d", v, out.Status)
				}
				if !validate {
					results[v] = h.Entries()
				}
			}
		}
		if appendMode%3 == uint8(appendFalse) && action == int32(corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD) {
			for _, v := range Versions() {
				if !reflect.DeepEqual(results[v], results[Envoy136]) {
					t.Fatalf("the version-proof mutation differs on %v", v)
				}
			}
		}
	})
}

// only reports whether values is exactly [want].
func only(values []string, want string) bool { return len(values) == 1 && values[0] == want }
