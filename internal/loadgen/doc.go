// Package loadgen drives a unary gRPC method over real loopback connections
// with one pre-encoded request, as cheaply as it can, so that the server and
// not the generator is what a benchmark measures.
//
// Two load shapes: closed loop (N connections × M requests in flight, a new
// request the moment one completes) for capacity, and open loop (a fixed
// rate, sent on a schedule whatever the server does) for latency against
// load. Two clients: a minimal HTTP/2 client written for this (the default;
// pre-encoded HEADERS and DATA frames, one goroutine per connection, no
// allocation per request) and grpc-go itself with a byte-passing CodecV2, to
// compare against. Both speak cleartext HTTP/2 or, with Options.TLS, TLS
// with ALPN h2 and a client certificate when one is given; the raw client
// stays free of allocation per request over TLS too. Latencies go into log-linear histograms without
// allocating, and Run reports the generator's own CPU time so a caller can
// tell when a run measured the generator instead of the server.
package loadgen
