package service

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// TestOversizedRequestIsRefused: a CheckRequest larger than Envoy can send
// gets a clear RESOURCE_EXHAUSTED, and the server goes on answering.
func TestOversizedRequestIsRefused(t *testing.T) {
	r := start(t, map[string]string{"ANTHROPIC_API_KEY": staticKey})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	huge := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Host: "api.anthropic.com", Headers: map[string]string{"cookie": strings.Repeat("c", 2<<20)}},
	}}}
	_, err := authv3.NewAuthorizationClient(r.conn).Check(ctx, huge)
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "larger than max") {
		t.Fatalf("a 2 MiB CheckRequest: %v, want RESOURCE_EXHAUSTED naming the limit", err)
	}
	if resp := r.check(t, "api.anthropic.com"); resp.GetStatus().GetCode() != 0 {
		t.Errorf("after the oversized request: status %d", resp.GetStatus().GetCode())
	}
}

// TestReflectionListsTheServices: grpcurl works without a protoset.
func TestReflectionListsTheServices(t *testing.T) {
	r := start(t, map[string]string{"ANTHROPIC_API_KEY": staticKey})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(r.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"envoy.service.auth.v3.Authorization", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %q, missing %s", names, want)
		}
	}
	// The descriptor of Check's request resolves, so grpcurl can build one.
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "envoy.service.auth.v3.Authorization"}}); err != nil {
		t.Fatal(err)
	}
	if resp, err = stream.Recv(); err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("no descriptor for the Authorization service: %v %v", resp.GetErrorResponse(), err)
	}
}

// TestHealthWatchesAreBounded: health and reflection stay open to callers
// the allow-list refuses, so their streams are capped; Check and the
// access-log stream are not counted and keep working.
func TestHealthWatchesAreBounded(t *testing.T) {
	r := start(t, map[string]string{"ANTHROPIC_API_KEY": staticKey})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	client := healthpb.NewHealthClient(r.conn)
	for i := range maxAuxStreams {
		w, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv() // the stream is open once its first status arrives
		}
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
	}
	w, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("watch %d: %v, want RESOURCE_EXHAUSTED", maxAuxStreams+1, err)
	}
	if resp := r.check(t, "api.anthropic.com"); resp.GetStatus().GetCode() != 0 {
		t.Errorf("Check while the watches are open: status %d", resp.GetStatus().GetCode())
	}
	logs, err := accesslogv3.NewAccessLogServiceClient(r.conn).StreamAccessLogs(ctx)
	if err == nil {
		_, err = logs.CloseAndRecv()
	}
	if err != nil {
		t.Errorf("the access-log stream while the watches are open: %v", err)
	}
}
