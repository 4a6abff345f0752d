// Package envoymodel is a model of Envoy's ext_authz HTTP filter (gRPC
// service) and of its gRPC access logger, for tests only: no production
// code imports it. Every behaviour it models was read in Envoy's C++
// source; docs/envoy-versions.md gives, per version, the file, function and
// commit.
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
// honoured). The access logger of Envoy139 and Envoy140 keeps a batch it
// could not hand to a new stream; earlier ones drop it.
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
// # Access log
//
// StreamInfo holds what Envoy's StreamInfo records for one request and the
// access log reads: start time, downstream and upstream addresses, response
// code and response_code_details (via_upstream when the router relayed the
// upstream's answer, ext_authz_* for the filter's own replies), the
// UnauthorizedExternalService flag, and the dynamic metadata (the filter's
// namespace holds the CheckResponse's dynamic_metadata plus
// ext_authz_duration on OK). StreamInfo.HTTPAccessLogEntry builds the
// HTTPAccessLogEntry envoy.access_loggers.http_grpc would, and AccessLogger
// sends entries as that logger does: batched up to buffer_size_bytes or
// buffer_flush_interval, on one StreamAccessLogs stream whose first message
// carries the identifier (node and log_name), a new stream (and identifier)
// after the server ends one, new entries dropped while the buffer stays full.
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
// Tests assert that Ignored is empty. The access log leaves out timing
// fields other than start time and duration, header and trailer logging,
// filter_state_objects_to_log, custom_tags, TLS properties, stream ids, the
// retry policy of the log stream, and the write-buffer watermark (the
// model's Send may block where Envoy would keep the batch).
package envoymodel
