// Package e2e holds the end-to-end tests of extauthz behind Envoy; it has no
// code of its own. Each test runs the real pieces on loopback — the local
// emulator as identity provider and token endpoint, the service as `serve`
// wires it (internal/service), and the echo upstream — with a test proxy in
// Envoy's place that builds Envoy's CheckRequest, calls Check over real gRPC
// and applies the CheckResponse as each modelled Envoy version does
// (internal/envoymodel), configured from envoy/local.yaml. A proxy can also
// log each request as Envoy's gRPC access logger would, to an access log
// service.
package e2e
