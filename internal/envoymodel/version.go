package envoymodel

import "fmt"

// Version selects which Envoy's source the model follows (see the package
// comment and docs/envoy-versions.md for what differs and where it was read).
type Version int

// The modelled Envoy versions. Every release reads only `append` for the
// request headers of an OK response; they differ in error_response (from
// 1.37.0) and in what the gRPC access logger does with a batch when it cannot
// start its stream (kept from 1.39.0).
const (
	// Envoy136 is Envoy 1.36.x (release commit 63ee0dc7).
	Envoy136 Version = iota + 1
	// Envoy137 is Envoy 1.37.0, 1.37.1 and 1.37.2, whose ext_authz code is
	// byte-identical (6d9bb7d9, 5ef4e4ce, 5afe27fb): 1.36 plus error_response.
	Envoy137
	// Envoy138 is Envoy 1.38.0 (f1dd21b1): 1.37's header handling, plus
	// shadow mode, which the model does not cover.
	Envoy138
	// Envoy139 is Envoy 1.39.0 (8eea3285): the gRPC access logger keeps a
	// batch it could not send for the next flush.
	Envoy139
	// Envoy140 is Envoy 1.40.0, inferred: its C++ source was not read, and
	// its changelog lists no change to anything modelled here, so it is
	// modelled as 1.39.
	Envoy140
	// EnvoyDev42878 is Envoy's main branch from 2026-01-23 to 2026-02-12,
	// while #42878 was merged (50ead8ad; reverted by #43442, 4c79c71d): not
	// a release. It is the only code that ever read append_action for
	// ext_authz request headers: a present `append` wins, otherwise
	// append_action counts, whose default APPEND_IF_EXISTS_OR_ADD adds a
	// second value (envoyproxy/envoy#43310).
	EnvoyDev42878
)

// Releases lists the modelled Envoy releases, oldest first.
func Releases() []Version { return []Version{Envoy136, Envoy137, Envoy138, Envoy139, Envoy140} }

// Versions lists every modelled version: the releases, then the reverted
// development code, because that code is the one reader of append_action a
// server's responses must also survive.
func Versions() []Version { return append(Releases(), EnvoyDev42878) }

// String names the version as the tests print it.
func (v Version) String() string {
	switch v {
	case Envoy136:
		return "envoy-1.36"
	case Envoy137:
		return "envoy-1.37"
	case Envoy138:
		return "envoy-1.38"
	case Envoy139:
		return "envoy-1.39"
	case Envoy140:
		return "envoy-1.40-inferred"
	case EnvoyDev42878:
		return "envoy-main-42878-reverted"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

func (v Version) valid() bool { return v >= Envoy136 && v <= EnvoyDev42878 }

// readsAppendAction reports whether v reads append_action for the request
// and local-reply headers of a CheckResponse; only the reverted #42878 did.
func (v Version) readsAppendAction() bool { return v == EnvoyDev42878 }

// knowsErrorResponse reports whether v reads CheckResponse.error_response
// (field 5, added by #42099 in 1.37.0).
func (v Version) knowsErrorResponse() bool { return v != Envoy136 }

// keepsUnsentBatch reports whether v's gRPC access logger keeps a batch it
// could not hand to a stream, for the next flush (#45263, in 1.39.0).
// Earlier versions drop it.
func (v Version) keepsUnsentBatch() bool { return v >= Envoy139 && v <= Envoy140 }
