package authz

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/secret"
)

// Test credentials. They are fake, but the tests treat them as secrets: they
// must never reach a log line or test output (see logs_test.go).
const (
	testToken = "sk-ant-oat01-authz.test.token.00000001"
	testKey   = "sk-ant-api03-authz.test.key.00000001"
	// badSecretMark is part of every unusable test credential.
	badSecretMark = "authz-test-bad-secret"
	// clientKey is the placeholder x-api-key the fixtures send; it must not
	// be logged either, as a real client could send a real key.
	clientKey = "placeholder-not-a-key"
)

// testSecrets are the strings no log line or test message may contain.
var testSecrets = []string{testToken, testKey, badSecretMark, clientKey}

// masked replaces every test secret in s, for messages that print responses.
func masked(s string) string {
	for _, v := range testSecrets {
		s = strings.ReplaceAll(s, v, "<test-secret>")
	}
	return s
}

// fakeCreds serves a fixed answer.
type fakeCreds struct {
	c          Credential
	retryAfter time.Duration
	ok         bool
}

func (f *fakeCreds) Credential(time.Time) (Credential, time.Duration, bool) {
	return f.c, f.retryAfter, f.ok
}

// servable is a credential that is ready, at generation 7.
func servable(v string) Credentials {
	return &fakeCreds{c: Credential{Value: secret.New(v), Generation: 7}, ok: true}
}

// notServable is the cold-start / outage state.
func notServable(retryAfter time.Duration) Credentials {
	return &fakeCreds{retryAfter: retryAfter}
}

// loadRequest reads testdata/requests/<name>.json.
func loadRequest(tb testing.TB, name string) *authv3.CheckRequest {
	tb.Helper()
	req := new(authv3.CheckRequest)
	readProtoJSON(tb, filepath.Join("testdata", "requests", name+".json"), req)
	return req
}

// readProtoJSON fills m from the protojson file at path.
func readProtoJSON(tb testing.TB, path string, m proto.Message) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

// requestNames lists the fixtures in testdata/requests.
func requestNames(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = strings.TrimSuffix(filepath.Base(p), ".json")
	}
	return names
}

// newTestServer builds a Server that logs at DEBUG into the package's log
// capture (and into extra, if given).
func newTestServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(nil)
	}
	s, err := NewServer(o)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// single configures the one credential "default".
func single(mode Mode, c Credentials) []NamedCredentials {
	return []NamedCredentials{{Name: "default", Mode: mode, Credentials: c}}
}

// only is the server's first credential, for tests of its answers.
func (s *Server) only() *credential { return s.creds.all[0] }

// testMetadata is the dynamic metadata of the fixtures' credential:
// "default" at servable's generation 7.
var testMetadata = feedbackMetadata("default", 7)
