// Package authz is the Envoy ext_authz Check server: it turns a CheckRequest
// and the credential that is servable right now into a CheckResponse.
//
// Check never waits: it reads the credential through Credentials (one atomic
// load behind it), decides, and hands the decision to small pure functions in
// response.go that build the response. The package knows nothing of how
// credentials are obtained or refreshed.
//
// Decision order, written where it is decided (Server.Check):
//
//  1. no attributes.request.http          → 400 invalid_request_error (gRPC code 3)
//  2. host not in EXTAUTHZ_ALLOWED_HOSTS  → 403 permission_error (code 7)
//  3. no servable credential              → 503 api_error + retry-after (code 14)
//  4. credential not a valid header value → 503 as above, and an ERROR log
//  5. otherwise OK (code 0) with the header mutations of the mode.
//
// With EXTAUTHZ_ALLOWED_HOSTS set, the request's authority (:authority from
// headers, else header_map, else attributes.request.http.host) must be
// exactly host or host:port: a DNS name (one trailing dot allowed), an IPv4
// address, or a bracketed IPv6 address without zone, and a port 1–65535
// without leading zeros. Userinfo, a path, whitespace, an empty port, a bare
// IPv6 address or anything else outside that grammar is denied like a host
// not on the list (hosts.go has the grammar and why).
//
// Every answer is a normal CheckResponse, never a gRPC error.
//
// Two ways in share that policy (decide) and the response builders:
//
//   - Check, over the generated types: tests, interceptors, the fallback.
//   - The fast path of a server registered with Register and Codec: the
//     request bytes are scanned with protowire for what Check reads
//     (wire_scan.go), validated as proto.Unmarshal would validate them, and
//     handed to proto.Unmarshal whenever the scan is unsure; an OK answer is
//     sent as bytes encoded once per credential generation and client beta
//     value (answers.go). It allocates nothing per request.
package authz
