package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"extauthz/internal/leakcheck"
	"extauthz/internal/secret"
	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// TestNoResponseCarriesACredential calls every RPC over real gRPC, with
// credentials whose tokens, key and error text are credential-rich, and runs
// the leak checker over every response and error.
func TestNoResponseCarriesACredential(t *testing.T) {
	now := time.Now()
	a := &fakeCredential{name: "team-a", info: wifInfo("svac_a")}
	a.set(tokens.Status{Ready: true, Token: token(testToken, now, 10*time.Minute, 4), ConsecutiveFailures: 3,
		NextAttempt: now.Add(time.Second), LastError: leakyReason})
	a.refresh = func(context.Context) (tokens.Status, error) { return a.Status(), errors.New(leakyReason) }
	b := &fakeCredential{name: "team-b", info: wifInfo("svac_b")}
	b.set(fresh(token(testToken2, now, 10*time.Minute, 1), now.Add(5*time.Minute)))
	s := newServer(t, Options{}, a, b, StaticKey("static", secret.New(testKey)))
	c := client(t, s)

	var seen strings.Builder
	note := func(m proto.Message, err error) {
		if m != nil {
			b, _ := protojson.Marshal(m)
			seen.Write(b)
		}
		if err != nil {
			seen.WriteString(err.Error())
		}
		seen.WriteByte('\n')
	}
	list, err := c.ListCredentials(t.Context(), &adminv1.ListCredentialsRequest{})
	note(list, err)
	if got := names(list.GetCredentials()); !slices.Equal(got, []string{"team-a", "team-b", "static"}) {
		t.Errorf("ListCredentials names %v, want configured order", got)
	}
	for _, name := range []string{"team-a", "team-a", "team-b", "static", "nobody", testToken} {
		resp, err := c.RefreshCredential(t.Context(), &adminv1.RefreshCredentialRequest{Name: name})
		note(resp, err)
	}
	stream, err := c.WatchCredentials(t.Context(), &adminv1.WatchCredentialsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		m, err := stream.Recv()
		note(m, err)
	}
	text := seen.String()
	suiteLogs.Write([]byte(text))
	if leaks := leakcheck.Find(text, testToken, testToken2, testKey, testJWT, testBearer); len(leaks) > 0 {
		t.Errorf("admin responses carry credentials: %v\n", leaks)
	}
	for _, want := range []string{secret.New(testToken).Fingerprint(), secret.New(testKey).Fingerprint(), "[REDACTED]"} {
		if !strings.Contains(text, want) {
			t.Errorf("responses lack %q", want)
		}
	}
}

func names(cs []*adminv1.Credential) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GetName())
	}
	return out
}

// TestRefreshCredentialOverGRPC: the codes reach a real client.
func TestRefreshCredentialOverGRPC(t *testing.T) {
	s := newServer(t, Options{}, &fakeCredential{name: "default", info: wifInfo("svac_d")}, StaticKey("static", secret.New(testKey)))
	c := client(t, s)
	for _, step := range []struct {
		name string
		code codes.Code
	}{
		{"default", codes.OK},
		{"default", codes.ResourceExhausted},
		{"static", codes.FailedPrecondition},
		{"other", codes.NotFound},
	} {
		_, err := c.RefreshCredential(t.Context(), &adminv1.RefreshCredentialRequest{Name: step.name})
		if status.Code(err) != step.code {
			t.Errorf("RefreshCredential(%q) = %v, want %v", step.name, err, step.code)
		}
	}
}

// TestReflectionAndHealth: the admin listener answers grpc.reflection.v1 with
// the AdminService and its messages, and grpc.health.v1 with SERVING until
// Close.
func TestReflectionAndHealth(t *testing.T) {
	s := newServer(t, Options{}, &fakeCredential{name: "default", info: wifInfo("svac_d")})
	conn := serve(t, s)
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var services []string
	for _, svc := range ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}).
		GetListServicesResponse().GetService() {
		services = append(services, svc.GetName())
	}
	for _, want := range []string{"extauthz.admin.v1.AdminService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %v, without %s", services, want)
		}
	}
	files := ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "extauthz.admin.v1.Credential"}}).GetFileDescriptorResponse().GetFileDescriptorProto()
	var fd descriptorpb.FileDescriptorProto
	if len(files) == 0 || proto.Unmarshal(files[0], &fd) != nil || fd.GetName() != "extauthz/admin/v1/admin.proto" ||
		len(fd.GetService()) != 1 || len(fd.GetService()[0].GetMethod()) != 3 {
		t.Errorf("reflection's file for Credential: %v", &fd)
	}

	h := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", "extauthz.admin.v1.AdminService"} {
		resp, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q = %v, %v; want SERVING", svc, resp, err)
		}
	}
	s.Close()
	if resp, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after Close = %v, %v; want NOT_SERVING", resp, err)
	}
}
