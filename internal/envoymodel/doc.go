// Package envoymodel is a model of Envoy's ext_authz HTTP filter (gRPC
// service), for tests only: no production code imports it.
//
// It plays the two halves of the filter that decide what reaches an
// upstream: Filter.CheckRequest builds the CheckRequest Envoy sends for an
// HTTP request (allowed_headers and disallowed_headers applied, keys
// lower-case, repeats comma-joined, or header_map with encode_raw_headers),
// and Filter.Apply does with the CheckResponse what Envoy does: on OK it
// applies OkHttpResponse.headers to the request headers the way the chosen
// Envoy Version reads `append` and `append_action`, then headers_to_remove,
// last; otherwise it builds the local reply the client gets.
//
// The versions differ in one thing, and that difference is the reason this
// package exists (see the project's Envoy reference, section 1.3):
//
//   - Envoy136 (1.36 and earlier) reads only `append`: true appends to an
//     existing header (comma-joined; nothing when absent), false or unset
//     sets the header.
//   - Envoy1370 (1.37.0) reads only `append_action`, whose default
//     APPEND_IF_EXISTS_OR_ADD appends — a response that sets neither field
//     duplicated the client's Authorization (envoyproxy/envoy#43310).
//   - EnvoyCurrent (after the revert): a present `append` wins (true →
//     APPEND_IF_EXISTS_OR_ADD, false → OVERWRITE_IF_EXISTS_OR_ADD), else
//     `append_action`.
//
// A response that sets append_action OVERWRITE_IF_EXISTS_OR_ADD, with
// `append` false or unset, overwrites on every version. One that leaves
// append_action at its default breaks: with `append=false` only, on 1.37.0;
// with neither field, on 1.37.0 and current Envoy. extauthz sets both fields
// so that it relies on no default at all; since no modelled version tells
// that from append_action alone, a test that wants both fields must look at
// the response itself. The unit tests show the model telling the fragile
// responses from the robust ones.
//
// Pseudo-headers (":authority", ":path", …) and "host" are untouchable: the
// model never removes, sets or appends them and reports every attempt in
// Outcome.Ignored. Envoy itself silently ignores such removals always, and
// refuses such sets only when decoder_header_mutation_rules is configured; a
// server whose response relies on either is wrong, and tests assert that
// Ignored is empty.
//
// Not modelled: the body (with_request_body), query-parameter mutations,
// response_headers_to_add, dynamic metadata, route-cache clearing, header
// count and size limits, decoder_header_mutation_rules beyond the rule above,
// and the call timeout (the caller owns the gRPC call).
package envoymodel
