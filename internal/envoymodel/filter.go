package envoymodel

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// ErrUnsupported is returned by NewFilter for a configuration the model does
// not cover: an unknown Version, the HTTP (not gRPC) service, a custom
// string matcher or a regex Go cannot compile.
var ErrUnsupported = errors.New("envoymodel: unsupported configuration")

// Filter is one configured ext_authz filter of one Envoy version.
type Filter struct {
	version          Version
	allowed          []stringMatcher // nil: every header goes to the service
	disallowed       []stringMatcher
	rawHeaders       bool // encode_raw_headers: header_map instead of headers
	validate         bool // validate_mutations
	failOpen         bool // failure_mode_allow
	failOpenHeader   bool // failure_mode_allow_header_add
	statusOnError    int
	maxDeniedBodyLen int  // max_denied_response_body_bytes; 0: no limit
	ingestMetadata   bool // enable_dynamic_metadata_ingestion, default true
}

// NewFilter models cfg (an envoy.filters.http.ext_authz config calling a
// gRPC service) on Envoy version v.
func NewFilter(v Version, cfg *ext_authzv3.ExtAuthz) (*Filter, error) {
	if !v.valid() {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, v)
	}
	if cfg.GetHttpService() != nil {
		return nil, fmt.Errorf("%w: http_service (the model covers the gRPC service)", ErrUnsupported)
	}
	f := &Filter{
		version:          v,
		rawHeaders:       cfg.GetEncodeRawHeaders(),
		validate:         cfg.GetValidateMutations(),
		failOpen:         cfg.GetFailureModeAllow(),
		failOpenHeader:   cfg.GetFailureModeAllowHeaderAdd(),
		statusOnError:    int(cfg.GetStatusOnError().GetCode()),
		maxDeniedBodyLen: int(cfg.GetMaxDeniedResponseBodyBytes()),
		ingestMetadata:   cfg.GetEnableDynamicMetadataIngestion() == nil || cfg.GetEnableDynamicMetadataIngestion().GetValue(),
	}
	if f.statusOnError == 0 {
		f.statusOnError = 403 // Envoy's default
	}
	var err error
	if cfg.GetAllowedHeaders() != nil {
		if f.allowed, err = newMatchers(cfg.GetAllowedHeaders()); err != nil {
			return nil, fmt.Errorf("allowed_headers: %w", err)
		}
		if f.allowed == nil {
			f.allowed = []stringMatcher{} // set but empty: nothing matches
		}
	}
	if f.disallowed, err = newMatchers(cfg.GetDisallowedHeaders()); err != nil {
		return nil, fmt.Errorf("disallowed_headers: %w", err)
	}
	return f, nil
}

// Version is the Envoy version the filter models.
func (f *Filter) Version() Version { return f.version }

// stringMatcher is Envoy's StringMatcher applied to a header key.
type stringMatcher func(string) bool

func newMatchers(list *matcherv3.ListStringMatcher) ([]stringMatcher, error) {
	var out []stringMatcher
	for i, p := range list.GetPatterns() {
		m, err := newMatcher(p)
		if err != nil {
			return nil, fmt.Errorf("patterns[%d]: %w", i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// newMatcher compiles one StringMatcher: exact, prefix, suffix and contains
// honour ignore_case; safe_regex must match the whole key (RE2 semantics,
// which Go's regexp shares).
func newMatcher(p *matcherv3.StringMatcher) (stringMatcher, error) {
	fold := func(s string) string { return s }
	if p.GetIgnoreCase() {
		fold = strings.ToLower
	}
	switch pat := p.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		want := fold(pat.Exact)
		return func(k string) bool { return fold(k) == want }, nil
	case *matcherv3.StringMatcher_Prefix:
		want := fold(pat.Prefix)
		return func(k string) bool { return strings.HasPrefix(fold(k), want) }, nil
	case *matcherv3.StringMatcher_Suffix:
		want := fold(pat.Suffix)
		return func(k string) bool { return strings.HasSuffix(fold(k), want) }, nil
	case *matcherv3.StringMatcher_Contains:
		want := fold(pat.Contains)
		return func(k string) bool { return strings.Contains(fold(k), want) }, nil
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := regexp.Compile(`^(?:` + pat.SafeRegex.GetRegex() + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%w: safe_regex: %w", ErrUnsupported, err)
		}
		return re.MatchString, nil
	default:
		return nil, fmt.Errorf("%w: string matcher %T", ErrUnsupported, pat)
	}
}

// anyMatch reports whether one of ms matches key.
func anyMatch(ms []stringMatcher, key string) bool {
	for _, m := range ms {
		if m(key) {
			return true
		}
	}
	return false
}
