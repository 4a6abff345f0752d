package main

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"extauthz/internal/callerauth"
)

// The files the benchmark writes are what extauthz loads, its client
// completes a mutual TLS handshake with them, and the caller list the
// server gets admits exactly that client.
func TestBenchPKI(t *testing.T) {
	p, err := newBenchPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	server, err := callerauth.LoadServerTLS(callerauth.TLSFiles{CertFile: p.certFile, KeyFile: p.keyFile, ClientCAFile: p.caFile}, callerauth.TLSOptions{})
	if err != nil {
		t.Fatalf("extauthz would not load the benchmark's files: %v", err)
	}
	if !server.VerifiesClients() {
		t.Error("the server does not ask for client certificates")
	}

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, server.Config())
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	if err := tls.Client(b, p.client).Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	chains := srv.ConnectionState().VerifiedChains
	if len(chains) == 0 {
		t.Fatal("the server verified no client certificate")
	}
	caller := callerauth.Caller{TLS: true, DNSNames: chains[0][0].DNSNames}
	for _, u := range chains[0][0].URIs {
		caller.URIs = append(caller.URIs, u.String())
	}

	var allowed []string
	for _, kv := range p.serverEnv() {
		if v, ok := strings.CutPrefix(kv, "EXTAUTHZ_ALLOWED_CALLERS="); ok {
			allowed = strings.Split(v, ",")
		}
	}
	list, err := callerauth.ParseAllowList(allowed)
	if err != nil {
		t.Fatalf("EXTAUTHZ_ALLOWED_CALLERS %q: %v", allowed, err)
	}
	if !list.Allows(&caller) {
		t.Errorf("the caller list %q does not admit the load generator's certificate (%v)", allowed, caller.URIs)
	}
	if list.Allows(&callerauth.Caller{TLS: true, URIs: []string{"spiffe://authzbench.test/ns/bench/sa/other"}}) {
		t.Error("the caller list admits another workload")
	}
}
