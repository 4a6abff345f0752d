// Package callerauth decides who may call extauthz's Check and stream access
// logs: Check's answer carries the credential, so whoever can call it can take
// the credential.
//
// It provides the allow-list of EXTAUTHZ_ALLOWED_CALLERS (ParseAllowList), the
// listener's TLS material re-read when its files change (LoadServerTLS), gRPC
// server transport credentials that work out each connection's caller — the
// verified client certificate's SANs over TLS, the kernel's SO_PEERCRED over a
// unix socket — and the allow decision once, at the handshake (Guard's
// TransportCredentials), and the per-RPC check that reads that decision
// (Guard.Authorize).
//
// The decision is per connection, not per RPC: a caller is what it proved
// when it connected. Health and reflection do not call Authorize, so any
// connection that completed the handshake can ask them.
package callerauth
