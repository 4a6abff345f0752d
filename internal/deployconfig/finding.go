package deployconfig

import (
	"errors"
	"fmt"
)

// The rules CheckCompose and CheckManifests hold a deployment to. Every *Finding unwraps to one
// of them.
var (
	// ErrNotIsolated: something other than Envoy could call extauthz's Check (or stream it access
	// logs), and Check's answer carries the credential.
	ErrNotIsolated = errors.New("extauthz is reachable by more than Envoy")
	// ErrMiswired: the parts of the deployment disagree, so it would not work as shipped (a
	// credential Envoy selects that extauthz does not hold, a socket Envoy cannot reach, a
	// listener extauthz refuses to start on).
	ErrMiswired = errors.New("the deployment's parts do not fit together")
	// ErrLoggedCredential: an access-log sink is given a header that can carry a credential; at
	// log time the request carries the bearer extauthz injected.
	ErrLoggedCredential = errors.New("an access log must not record a header that can carry a credential")
)

// A Finding is one problem in a deployment: the field it is in and what is wrong with it.
type Finding struct {
	// Field locates it: services.echo.volumes in a compose file, or kind namespace/name followed
	// by the field (NetworkPolicy anthropic-auth/extauthz-grpc: spec.ingress[0].from) in manifests.
	Field string
	// Rule is ErrNotIsolated, ErrMiswired or ErrLoggedCredential.
	Rule error
	// Detail says what was found.
	Detail string
}

// Error reads "field: rule: detail".
func (f *Finding) Error() string { return f.Field + ": " + f.Rule.Error() + ": " + f.Detail }

// Unwrap returns the rule, so that errors.Is(err, ErrNotIsolated) works.
func (f *Finding) Unwrap() error { return f.Rule }

// Findings lists every *Finding in err, looking through errors.Join trees.
func Findings(err error) []*Finding {
	var out []*Finding
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, Findings(e)...)
		}
		return out
	}
	if f, ok := errors.AsType[*Finding](err); ok {
		out = append(out, f)
	}
	return out
}

// findings collects Findings.
type findings []error

func (fs *findings) add(field string, rule error, format string, args ...any) {
	*fs = append(*fs, &Finding{Field: field, Rule: rule, Detail: fmt.Sprintf(format, args...)})
}

func (fs findings) err() error { return errors.Join(fs...) }
