// Package envoymodel is a model of Envoy's ext_authz HTTP filter (gRPC
// service), for tests only: no production code imports it. Every behaviour
// it models was read in Envoy's C++ source; docs/envoy-versions.md gives,
// per version, the file, function and commit.
//
// Filter.CheckRequest builds the CheckRequest Envoy sends for an HTTP
// request (allowed_headers and disallowed_headers applied, keys lower-case,
// repeats comma-joined, or header_map with encode_raw_headers), and
// Filter.Apply does with the CheckResponse what the filter's onComplete
// does: it stores dynamic_metadata under MetadataNamespace, then on OK
// applies OkHttpResponse.headers to the request headers and
// headers_to_remove last; otherwise it builds the local reply the client
// gets, with its response_code_details.
//
// # Versions
//
// No Envoy release ever read append_action for the request headers of an
// OK response. Envoy136 to Envoy140 read `append` alone: true appends to a
// present header (appendCopy, comma-joined; nothing when absent), false or
// unset sets it (setCopy: every copy removed, one added). They apply every
// set before every append. Envoy140 is inferred: its C++ source was not
// read and its changelog lists no change here.
//
// EnvoyDev42878 is not a release: it is main between 2026-01-23 and
// 2026-02-12, while #42878 was merged (then reverted by #43442, before
// 1.38.0). There a present `append` won (true: appendCopy if present,
// false: setCopy); only when `append` was absent did append_action count,
// and its default APPEND_IF_EXISTS_OR_ADD meant addCopy — a second bearer
// next to the client's (envoyproxy/envoy#43310). It applied the list in
// order and flagged unknown actions (500 under validate_mutations).
//
// So on every release a server may set `append=false`, or
// append_action OVERWRITE_IF_EXISTS_OR_ADD, or neither, and its header
// overwrites the client's. Only under EnvoyDev42878 does a response that
// sets neither field break. extauthz sets both, so that no reading of the
// two fields that Envoy has shipped or merged relies on a default; the
// model cannot tell "both" from "append=false only" by behaviour, so a test
// that wants both must look at the response itself.
//
// Releases differ elsewhere: Envoy136 does not know error_response (field 5
// of CheckResponse) and denies with a bare 403; later versions treat it as
// an error (status_on_error unless it has a status; failure_mode_allow
// honoured).
//
// # Validation and local replies
//
// With validate_mutations, a header name must be RFC 9110 token characters
// (upper case allowed, an optional leading ':'; an empty name passes) and a
// value may hold only HTAB, SP, 0x21–0x7E and 0x80–0xFF; an invalid OK or
// denied header gives a 500 (ext_authz_invalid), an invalid error_response
// header drops the custom reply for the generic status_on_error one, and an
// invalid name in headers_to_remove is skipped. A release's denial keeps
// repeated keys and drops append=true headers; an error_response adds them.
// A local reply with a body and no content type is text/plain; one without
// a body has no content type.
//
// # Not modelled
//
// The body (with_request_body), query-parameter mutations,
// response_headers_to_add (beyond flagging invalid actions), route-cache
// clearing, header count and size limits, decoder_header_mutation_rules,
// shadow_mode, filter_enabled and per-route settings, and the call timeout
// (the caller owns the gRPC call). Pseudo-headers (":authority", ":path", …)
// and "host" are never mutated: the model reports every attempt in
// Outcome.Ignored, where Envoy without mutation rules would set or append
// them (it never removes them); a header with an empty name is reported too.
// Tests assert that Ignored is empty.
package envoymodel
