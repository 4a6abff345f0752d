package service

import (
	"context"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogdatav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"extauthz/internal/authz"
)

// upstreamEntry is the access-log entry Envoy writes for a request that
// carried the OK response resp and got code from the upstream.
func upstreamEntry(resp *authv3.CheckResponse, code uint32) *accesslogdatav3.HTTPAccessLogEntry {
	return &accesslogdatav3.HTTPAccessLogEntry{
		CommonProperties: &accesslogdatav3.AccessLogCommon{Metadata: &corev3.Metadata{
			FilterMetadata: map[string]*structpb.Struct{"envoy.filters.http.ext_authz": resp.GetDynamicMetadata()},
		}},
		Response: &accesslogdatav3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(code), ResponseCodeDetails: "via_upstream"},
	}
}

// TestUpstream401RefreshesAtOnce: an upstream 401 reported through the
// access-log stream makes the next Check carry a new token, and a flood
// of them costs one exchange.
func TestUpstream401RefreshesAtOnce(t *testing.T) {
	emu := startEmulator(t, time.Hour)
	r := start(t, emu.Env())
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	first := r.check(t, "api.anthropic.com")
	tok := bearer(t, first)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	stream, err := accesslogv3.NewAccessLogServiceClient(r.conn).StreamAccessLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var entries []*accesslogdatav3.HTTPAccessLogEntry
	for range 500 {
		entries = append(entries, upstreamEntry(first, 401))
	}
	entries = append(entries, upstreamEntry(first, 200), upstreamEntry(first, 529))
	if err := stream.Send(&accesslogv3.StreamAccessLogsMessage{
		Identifier: &accesslogv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "sidecar"}, LogName: "extauthz"},
		LogEntries: &accesslogv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &accesslogv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	for r.svc.creds[0].refresher.Status().Token.Generation == 1 {
		if ctx.Err() != nil {
			t.Fatal("no new token after an upstream 401")
		}
		time.Sleep(5 * time.Millisecond)
	}
	second := r.check(t, "api.anthropic.com")
	if bearer(t, second) == tok || !emu.Valid(bearer(t, second)) {
		t.Error("the Check after the 401 does not carry a new valid token")
	}
	if g := second.GetDynamicMetadata().GetFields()[authz.MetadataGeneration].GetNumberValue(); g != 2 {
		t.Errorf("the new token's metadata says generation %v, want 2", g)
	}
	_, metrics := r.get(t, "/metrics")
	for _, series := range []string{
		`extauthz_upstream_responses_total{code="401",credential="default"} 500`,
		`extauthz_upstream_responses_total{code="5xx",credential="default"} 1`,
		`extauthz_upstream_responses_total{code="other",credential="default"} 1`,
		`extauthz_token_exchanges_total{credential="default",outcome="success"} 2`,
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}
