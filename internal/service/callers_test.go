package service

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdatav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"extauthz/internal/config"
	"extauthz/internal/testpki"
)

// lockedBuffer is a bytes.Buffer for a logger shared with Run's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	suiteLogs.Write(p)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStartWarnsWhenCallersAreUnchecked: design.md's one WARN at start
// when every local process can call Check, and none when something checks.
func TestStartWarnsWhenCallersAreUnchecked(t *testing.T) {
	sock := "unix:" + filepath.Join(t.TempDir(), "grpc.sock")
	dir := t.TempDir()
	ca := testpki.NewCA(t, "callers test CA")
	ca.Secrets = &suiteLogs
	pair := ca.Issue(t, testpki.Leaf{DNSNames: []string{"extauthz"}})
	mtls := map[string]string{"EXTAUTHZ_GRPC_ADDR": "0.0.0.0:0",
		"EXTAUTHZ_TLS_CERT_FILE":      testpki.WriteFile(t, dir, "tls.crt", pair.CertPEM),
		"EXTAUTHZ_TLS_KEY_FILE":       testpki.WriteFile(t, dir, "tls.key", pair.KeyPEM),
		"EXTAUTHZ_TLS_CLIENT_CA_FILE": testpki.WriteFile(t, dir, "ca.crt", ca.PEM)}
	const anyLocal, anyCertificate = "any local process can call Check", "any certificate the CA bundle issued"
	for _, c := range []struct {
		name  string
		env   map[string]string
		warns map[string]int
	}{
		{"loopback TCP, no caller check", map[string]string{"EXTAUTHZ_GRPC_ADDR": "127.0.0.1:0"}, map[string]int{anyLocal: 1}},
		{"unix socket", map[string]string{"EXTAUTHZ_GRPC_ADDR": sock}, nil},
		{"unix socket with a uid check", map[string]string{"EXTAUTHZ_GRPC_ADDR": sock, "EXTAUTHZ_ALLOWED_CALLERS": "uid:101"}, nil},
		{"mTLS, no caller list", mtls, map[string]int{anyCertificate: 1}},
		{"mTLS with a caller list", withCallers(mtls, "dns:envoy"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"ANTHROPIC_API_KEY": staticKey, "EXTAUTHZ_HTTP_ADDR": "off", "EXTAUTHZ_ADMIN_ADDR": "off"}
			for k, v := range c.env {
				env[k] = v
			}
			cfg, err := config.Load(context.Background(), config.MapEnv(env))
			if err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			svc, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Lookup: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			// Run logs its start, warning included, before it looks at its
			// context: one already cancelled makes it start and stop.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := svc.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), `"extauthz serving"`) {
				t.Fatalf("no start line:\n%s", logs.String())
			}
			for _, phrase := range []string{anyLocal, anyCertificate} {
				if got := strings.Count(logs.String(), phrase); got != c.warns[phrase] {
					t.Errorf("%d WARNs saying %q, want %d:\n%s", got, phrase, c.warns[phrase], logs.String())
				}
			}
		})
	}
}

// withCallers is env with EXTAUTHZ_ALLOWED_CALLERS set to list.
func withCallers(env map[string]string, list string) map[string]string {
	out := map[string]string{"EXTAUTHZ_ALLOWED_CALLERS": list}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// TestRefusedCallerGetsNeitherCheckNorFeedback: on a unix socket allowing
// another uid, the test process (its uid not on the list) gets
// PERMISSION_DENIED from Check and from the access-log stream, and its 401
// entries refresh nothing; health still answers.
func TestRefusedCallerGetsNeitherCheckNorFeedback(t *testing.T) {
	emu := startEmulator(t, time.Hour)
	env := emu.Env()
	env["EXTAUTHZ_GRPC_ADDR"] = "unix:" + filepath.Join(t.TempDir(), "grpc.sock")
	env["EXTAUTHZ_ALLOWED_CALLERS"] = "uid:" + strconv.Itoa(os.Getuid()+1)
	r := start(t, env)
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	if _, err := authv3.NewAuthorizationClient(r.conn).Check(ctx, &authv3.CheckRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Check: %v, want PERMISSION_DENIED", err)
	}
	stream, err := accesslogv3.NewAccessLogServiceClient(r.conn).StreamAccessLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entry := upstreamEntry(&authv3.CheckResponse{DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{
		"credential": structpb.NewStringValue("default"), "generation": structpb.NewNumberValue(1)}}}, 401)
	_ = stream.Send(&accesslogv3.StreamAccessLogsMessage{
		Identifier: &accesslogv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "intruder"}, LogName: "x"},
		LogEntries: &accesslogv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &accesslogv3.StreamAccessLogsMessage_HTTPAccessLogEntries{
			LogEntry: []*accesslogdatav3.HTTPAccessLogEntry{entry}}},
	})
	if _, err := stream.CloseAndRecv(); status.Code(err) != codes.PermissionDenied {
		t.Errorf("StreamAccessLogs: %v, want PERMISSION_DENIED", err)
	}
	_, metrics := r.get(t, "/metrics")
	if !strings.Contains(metrics, `extauthz_upstream_responses_total{code="401",credential="default"} 0`) ||
		!strings.Contains(metrics, "extauthz_callers_rejected_total 2") {
		t.Errorf("the refused caller's entry was counted, or its two calls were not:\n%s", metrics)
	}
	if g := r.svc.creds[0].refresher.Status().Token.Generation; g != 1 {
		t.Errorf("a refused caller's 401 refreshed the token (generation %d)", g)
	}
}
