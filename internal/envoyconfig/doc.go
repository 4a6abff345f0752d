// Package envoyconfig validates Envoy bootstrap files without an Envoy binary.
//
// Decode turns a YAML bootstrap into go-control-plane's v3 Bootstrap strictly (an unknown or
// misspelt field, a duplicate key or an unresolvable @type fails), then unpacks every nested
// google.protobuf.Any anywhere in the tree — filters, per-route configs, transport sockets,
// protocol options, access loggers, and Anys inside those — and runs protoc-gen-validate's
// ValidateAll on each, because the bootstrap's own ValidateAll stops at an Any.
//
// Check then asserts what this project needs of a config that fronts extauthz: ext_authz is the
// first HTTP filter of every connection manager, fails closed with 503, speaks transport API V3
// over gRPC with a timeout of at most 1 s to a cluster that exists, speaks HTTP/2 and is
// health-checked; that cluster is a unix socket or TLS with a client certificate, since whoever
// reaches extauthz can take the credential; only the headers extauthz reads are sent to it, no
// body; no per-route config undoes any of that; each connection manager streams its access log
// to extauthz (envoy.access_loggers.http_grpc on the ext_authz cluster) and no gRPC access logger
// logs a header that can carry a credential; once a route selects a credential through
// context_extensions, every forwarding route does; every referenced cluster exists; routes do
// not cut long responses; upstream TLS verifies the peer's chain and its name (or pins its key);
// the admin interface is on loopback, and on a unix socket when a listener is on loopback (the
// workload shares that network namespace); no deprecated field is used; and no substitution
// format (access logs, added headers) names a credential header. Each problem is a *Violation that names the file, the
// field path and the broken rule (one of the Err sentinels).
package envoyconfig
