package authz

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/secret"
)

// FuzzCheck feeds arbitrary CheckRequest bytes to servers in both modes, with
// and without a host list: Check must never panic or fail, and every response
// must keep the invariants of responseProblems.
func FuzzCheck(f *testing.F) {
	addFixtureSeeds(f)
	servers := fuzzServers(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(authv3.CheckRequest)
		if err := proto.Unmarshal(data, req); err != nil {
			return
		}
		for _, s := range servers {
			resp, err := s.Check(context.Background(), req)
			if err != nil {
				t.Fatalf("Check returned an error: %v", err)
			}
			for _, p := range responseProblems(resp) {
				t.Error(p)
			}
		}
	})
}

// addFixtureSeeds adds every fixture request, marshalled, to f's corpus.
func addFixtureSeeds(f *testing.F) {
	for _, name := range requestNames(f) {
		b, err := proto.Marshal(loadRequest(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzServers are servers of both modes, with and without a host list, and
// one without a credential.
func fuzzServers(f *testing.F) []*Server {
	return []*Server{
		newTestServer(f, Options{Credentials: single(ModeWIF, servable(testToken))}),
		newTestServer(f, Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: []string{"api.anthropic.com", "::1"}}),
		newTestServer(f, Options{Credentials: single(ModeStaticKey, StaticKey(secret.New(testKey))), AllowedHosts: []string{"api.anthropic.com"}}),
		newTestServer(f, Options{Credentials: single(ModeWIF, notServable(0))}),
		newTestServer(f, Options{Credentials: teams(), ByPrincipal: teamRules}),
	}
}
