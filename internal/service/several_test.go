package service

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/prototext"

	"extauthz/internal/authz"
	"extauthz/internal/healthwatch"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// teamsEnv configures team-a and team-b, each against its own emulator
// (so each exchanges for its own service account), team-b also chosen by
// principal.
func teamsEnv(t *testing.T) (env map[string]string, a, b interface{ Valid(string) bool }) {
	t.Helper()
	emuA, emuB := startEmulator(t, time.Minute), startEmulator(t, time.Minute)
	env = map[string]string{
		"EXTAUTHZ_CREDENTIALS":             "team-a,team-b",
		"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL": "spiffe://td/ns/b/*=team-b",
	}
	for k, v := range emuA.Env() {
		env["EXTAUTHZ_TEAM_A_"+k] = v
	}
	for k, v := range emuB.Env() {
		env["EXTAUTHZ_TEAM_B_"+k] = v
	}
	return env, emuA, emuB
}

// checkAs sends a Check that selects by context extension ext (none when
// "") and carries principal.
func (r *running) checkAs(t *testing.T, ext, principal string) *authv3.CheckResponse {
	t.Helper()
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Principal: principal},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v1/messages", Host: "api.anthropic.com",
			Headers: map[string]string{"anthropic-beta": "files-api-2025-04-14"},
		}},
	}}
	if ext != "" {
		req.Attributes.ContextExtensions = map[string]string{authz.CredentialExtension: ext}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(r.conn).Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}

// waitService blocks until grpc.health.v1 reports want for service.
func (r *running) waitService(t *testing.T, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not an assertion
	defer cancel()
	if err := healthwatch.Wait(ctx, r.conn, service, want); err != nil {
		t.Fatalf("%s: %v", service, err)
	}
}

// TestTwoCredentialsEndToEnd: two credentials exchange for two service
// accounts over the real wiring; each route or principal gets its own
// token, and a request that selects none gets a 403 and no token.
func TestTwoCredentialsEndToEnd(t *testing.T) {
	env, emuA, emuB := teamsEnv(t)
	r := start(t, env)
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	r.waitService(t, CredentialHealthService("team-a"), healthpb.HealthCheckResponse_SERVING)
	r.waitService(t, CredentialHealthService("team-b"), healthpb.HealthCheckResponse_SERVING)

	tokA := bearer(t, r.checkAs(t, "team-a", "spiffe://td/ns/b/sa/x")) // the route's choice wins
	tokB := bearer(t, r.checkAs(t, "", "spiffe://td/ns/b/sa/x"))
	if !emuA.Valid(tokA) || emuB.Valid(tokA) {
		t.Error("team-a's route did not get team-a's token")
	}
	if !emuB.Valid(tokB) || emuA.Valid(tokB) {
		t.Error("team-b's principal did not get team-b's token")
	}
	for _, c := range []struct{ ext, principal string }{{"", ""}, {"", "spiffe://td/ns/c/sa/x"}, {"team-c", ""}} {
		resp := r.checkAs(t, c.ext, c.principal)
		if resp.GetStatus().GetCode() != int32(codes.PermissionDenied) || resp.GetDeniedResponse().GetStatus().GetCode() != 403 ||
			resp.GetOkResponse() != nil {
			t.Errorf("extension %q, principal %q: want 403 and no token, got status %d", c.ext, c.principal, resp.GetStatus().GetCode())
		}
	}

	_, metrics := r.get(t, "/metrics")
	for _, series := range []string{
		`extauthz_checks_total{credential="team-a",result="ok"} 1`,
		`extauthz_checks_total{credential="team-b",result="ok"} 1`,
		`extauthz_checks_total{credential="",result="forbidden"} 3`,
		`extauthz_token_exchanges_total{credential="team-a",outcome="success"} 1`,
		`extauthz_token_exchanges_total{credential="team-b",outcome="success"} 1`,
		"extauthz_ready 1",
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

// TestReadinessNeedsEveryCredential: the server is SERVING only while every
// credential is; each credential's own health service follows it alone.
func TestReadinessNeedsEveryCredential(t *testing.T) {
	env, _, _ := teamsEnv(t)
	// team-b's token endpoint refuses from the start.
	env["EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"] = "svac_unknown"
	r := start(t, env)
	r.waitService(t, CredentialHealthService("team-a"), healthpb.HealthCheckResponse_SERVING)
	r.waitService(t, CredentialHealthService("team-b"), healthpb.HealthCheckResponse_NOT_SERVING)
	r.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING)
	r.waitService(t, "", healthpb.HealthCheckResponse_NOT_SERVING)
	if code, _ := r.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz = %d with one credential unservable, want 503", code)
	}
	bearer(t, r.checkAs(t, "team-a", ""))
	if resp := r.checkAs(t, "team-b", ""); resp.GetDeniedResponse().GetStatus().GetCode() != 503 {
		t.Errorf("team-b without a token: want 503, got %d", resp.GetDeniedResponse().GetStatus().GetCode())
	}
}

// TestAdminListsEveryCredential: the admin API of the running service
// lists both credentials in configured order, with their service accounts
// and fingerprints, never a token.
func TestAdminListsEveryCredential(t *testing.T) {
	env, _, _ := teamsEnv(t)
	r := start(t, env)
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	conn, err := grpc.NewClient("passthrough:///"+r.svc.AdminAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adminv1.NewAdminServiceClient(conn).ListCredentials(ctx, &adminv1.ListCredentialsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range resp.GetCredentials() {
		got = append(got, c.GetName()+" "+c.GetMode().String()+" "+c.GetState().String())
		tok := r.svc.creds[len(got)-1].refresher.Status().Token
		if c.GetTokenFingerprint() != tok.Value.Fingerprint() || c.GetServiceAccountId() != r.svc.creds[len(got)-1].cfg.ServiceAccountID {
			t.Errorf("%s: fingerprint or service account differ from the refresher's", c.GetName())
		}
		if strings.Contains(prototext.Format(c), tok.Value.Reveal()) {
			t.Errorf("%s: the admin API shows the token", c.GetName())
		}
	}
	want := []string{"team-a CREDENTIAL_MODE_GITHUB_OIDC CREDENTIAL_STATE_FRESH", "team-b CREDENTIAL_MODE_GITHUB_OIDC CREDENTIAL_STATE_FRESH"}
	if !slices.Equal(got, want) {
		t.Errorf("ListCredentials = %q, want %q", got, want)
	}
}
