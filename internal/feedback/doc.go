// Package feedback serves Envoy's gRPC Access Log Service
// (envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs) so that an
// upstream's answers reach the credentials extauthz injected: an upstream 401
// for a request that carried a credential's current token generation asks
// that credential to refresh now, and every upstream answer is counted per
// credential and response class.
//
// Envoy's ext_authz filter stores the dynamic_metadata of an OK CheckResponse
// under its metadata namespace (source/extensions/filters/http/ext_authz/
// ext_authz.cc, Filter::onComplete), and the gRPC access logger copies the
// request's dynamic metadata into each entry's
// common_properties.metadata. extauthz puts
// {"credential": NAME, "generation": N} there; Envoy may add fields of its own
// (ext_authz_duration), which are ignored.
//
// The stream is input from outside and is treated as hostile even after the
// caller was authenticated:
//   - nothing is ever sent back but the final empty response when the client
//     closes, or a status that says nothing of the server's state (the
//     caller check's own, or grpc's words about an undecodable message);
//   - a stream keeps O(1) state: no entry, identifier or name is retained, so
//     a stream open for days costs no growing memory;
//   - names that are not configured credentials never become metric labels
//     or log attributes (label cardinality is an attack surface);
//   - a flood of 401 entries costs O(1) per entry, at most one INFO line per
//     credential per 30 s, and the credential itself refreshes at most once
//     per 30 s and ignores stale generations;
//   - an entry is never logged: Envoy may have copied request headers into it.
//
// Every entry that does not lead to a count of an upstream response is
// counted as ignored under one of the Reason constants.
package feedback
