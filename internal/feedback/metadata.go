package feedback

import (
	"math"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// extauthzNamespace is the ext_authz HTTP filter's canonical name, the
// filter_metadata namespace its dynamic metadata is stored under.
const extauthzNamespace = "envoy.filters.http.ext_authz"

// The fields extauthz puts in every OK CheckResponse's dynamic_metadata.
const (
	credentialField = "credential"
	generationField = "generation"
)

// maxGeneration is the largest generation read from metadata: a Struct
// number is a float64, exact for integers up to 2^53.
const maxGeneration = 1 << 53

// isExtAuthzNamespace reports whether a filter_metadata namespace may hold
// the ext_authz filter's dynamic metadata. Every Envoy version read stores
// it under the literal "envoy.filters.http.ext_authz", whatever the filter
// is named (ext_authz.cc Filter::onComplete; docs/envoy-versions.md), so
// Envoy Gateway's "envoy.filters.http.ext_authz/securitypolicy/…" filters
// too; a name under it is accepted as well, defensively, should a later
// Envoy key it by the filter's name. All namespace matching is here.
func isExtAuthzNamespace(ns string) bool {
	rest, ok := strings.CutPrefix(ns, extauthzNamespace)
	return ok && (rest == "" || rest[0] == '/')
}

// stamp is what extauthz's metadata says of a request: the credential it
// carried and that credential's token generation.
type stamp struct {
	credential string
	generation uint64
}

// stampOf finds extauthz's stamp in an entry's metadata. A namespace of the
// ext_authz filter without a "credential" field is someone else's and is
// skipped. It returns ReasonNoMetadata when there is no stamp, and
// ReasonMalformed when a stamp has the wrong types or values or when two
// namespaces hold stamps that disagree (the request cannot have carried
// both); reason is "" when st is valid.
func stampOf(md *corev3.Metadata) (st stamp, reason string) {
	found := false
	for ns, s := range md.GetFilterMetadata() {
		if !isExtAuthzNamespace(ns) {
			continue
		}
		if _, ok := s.GetFields()[credentialField]; !ok {
			continue
		}
		this, ok := parseStamp(s)
		if !ok || found && this != st {
			return stamp{}, ReasonMalformed
		}
		st, found = this, true
	}
	if !found {
		return stamp{}, ReasonNoMetadata
	}
	return st, ""
}

// parseStamp reads the credential (a non-empty string) and the generation (a
// non-negative integer of at most 2^53) from s.
func parseStamp(s *structpb.Struct) (stamp, bool) {
	f := s.GetFields()
	name, ok := f[credentialField].GetKind().(*structpb.Value_StringValue)
	if !ok || name.StringValue == "" {
		return stamp{}, false
	}
	num, ok := f[generationField].GetKind().(*structpb.Value_NumberValue)
	if !ok {
		return stamp{}, false
	}
	g := num.NumberValue
	if !(g >= 0 && g <= maxGeneration) || g != math.Trunc(g) { // NaN fails the first test
		return stamp{}, false
	}
	return stamp{credential: name.StringValue, generation: uint64(g)}, true
}
