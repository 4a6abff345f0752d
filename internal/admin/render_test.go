package admin

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"extauthz/internal/leakcheck"
	"extauthz/internal/secret"
	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

func TestStateOf(t *testing.T) {
	tok := token(testToken, time.Unix(1000, 0), 10*time.Minute, 3)
	for _, c := range []struct {
		name string
		st   tokens.Status
		want adminv1.CredentialState
	}{
		{"no token yet", tokens.Status{NextAttempt: time.Unix(1000, 0)}, adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN},
		{"no token, failing", tokens.Status{ConsecutiveFailures: 4, LastError: "x"}, adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN},
		{"servable, no failure", tokens.Status{Ready: true, Token: tok}, adminv1.CredentialState_CREDENTIAL_STATE_FRESH},
		{"servable, refresh failing", tokens.Status{Ready: true, Token: tok, ConsecutiveFailures: 1}, adminv1.CredentialState_CREDENTIAL_STATE_STALE},
		{"past its edge", tokens.Status{Token: tok, ConsecutiveFailures: 7}, adminv1.CredentialState_CREDENTIAL_STATE_EXPIRED},
		{"past its edge, refresher stopped", tokens.Status{Token: tok}, adminv1.CredentialState_CREDENTIAL_STATE_EXPIRED},
	} {
		if got := stateOf(c.st); got != c.want {
			t.Errorf("%s: state %v, want %v", c.name, got, c.want)
		}
	}
}

// TestCredentialMessage: every field comes from its source, the token only as
// its fingerprint, and the error scrubbed of credentials and control
// characters here even when the credential did not scrub it.
func TestCredentialMessage(t *testing.T) {
	sent := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tok := token(testToken, sent, 10*time.Minute, 3)
	st := tokens.Status{Ready: true, Token: tok, ConsecutiveFailures: 2, NextAttempt: sent.Add(6 * time.Minute), LastError: leakyReason}
	got := record(credentialMessage("team-a", wifInfo("svac_a"), st))
	want := &adminv1.Credential{
		Name:                "team-a",
		Mode:                adminv1.CredentialMode_CREDENTIAL_MODE_GITHUB_OIDC,
		State:               adminv1.CredentialState_CREDENTIAL_STATE_STALE,
		TokenFingerprint:    secret.New(testToken).Fingerprint(),
		Generation:          3,
		IssuedAt:            timestamppb.New(sent),
		ExpiresAt:           timestamppb.New(sent.Add(10 * time.Minute)),
		ServableUntil:       timestamppb.New(sent.Add(10*time.Minute - 30*time.Second)),
		NextRefreshAt:       timestamppb.New(sent.Add(6 * time.Minute)),
		ConsecutiveFailures: 2,
		LastError:           "token endpoint: HTTP 401: assertion [REDACTED] rejected; token [REDACTED]; [REDACTED] [31m",
		FederationRuleId:    "fdrl_test",
		OrganizationId:      "00000000-0000-4000-8000-000000000000",
		ServiceAccountId:    "svac_a",
		WorkspaceId:         "wrkspc_test",
	}
	if !proto.Equal(got, want) {
		t.Errorf("message =\n%v\nwant\n%v", got, want)
	}
	if leaks := leakcheck.Find(got.String(), testToken, testJWT, testBearer); len(leaks) > 0 {
		t.Errorf("credential in the message: %v", leaks)
	}
}

func TestCredentialMessageWithoutToken(t *testing.T) {
	got := credentialMessage("default", Info{Mode: ModeOIDCFile}, tokens.Status{ConsecutiveFailures: 1, LastError: "dial tcp: refused"})
	if got.GetTokenFingerprint() != "" || got.GetGeneration() != 0 || got.GetIssuedAt() != nil || got.GetExpiresAt() != nil ||
		got.GetServableUntil() != nil || got.GetNextRefreshAt() != nil {
		t.Errorf("token fields set without a token: %v", got)
	}
	if got.GetMode() != adminv1.CredentialMode_CREDENTIAL_MODE_OIDC_FILE || got.GetLastError() != "dial tcp: refused" {
		t.Errorf("message = %v", got)
	}
}

func TestStaticKey(t *testing.T) {
	k := StaticKey("default", secret.New(testKey))
	got := record(render(k))
	want := &adminv1.Credential{
		Name:             "default",
		Mode:             adminv1.CredentialMode_CREDENTIAL_MODE_STATIC,
		State:            adminv1.CredentialState_CREDENTIAL_STATE_FRESH,
		TokenFingerprint: secret.New(testKey).Fingerprint(),
		Generation:       1,
	}
	if !proto.Equal(got, want) {
		t.Errorf("static key =\n%v\nwant\n%v", got, want)
	}
	if _, err := k.RefreshNow(t.Context()); err != ErrNotRefreshable {
		t.Errorf("RefreshNow error = %v, want ErrNotRefreshable", err)
	}
}

func TestScrubErrorBoundsLength(t *testing.T) {
	long := strings.Repeat("é", maxTextLen) // 2 bytes each
	got := CleanText(long)
	if len(got) > maxTextLen+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Errorf("CleanText of %d bytes gave %d bytes ending %q", len(long), len(got), got[len(got)-8:])
	}
	if got := CleanText("a\nb\x00c\u009bd"); got != "a b c d" {
		t.Errorf("control characters kept: %q", got)
	}
}

func TestModeEnum(t *testing.T) {
	for m, want := range map[Mode]adminv1.CredentialMode{
		ModeStatic:     adminv1.CredentialMode_CREDENTIAL_MODE_STATIC,
		ModeGitHubOIDC: adminv1.CredentialMode_CREDENTIAL_MODE_GITHUB_OIDC,
		ModeOIDCFile:   adminv1.CredentialMode_CREDENTIAL_MODE_OIDC_FILE,
		"":             adminv1.CredentialMode_CREDENTIAL_MODE_UNSPECIFIED,
	} {
		if got := modeEnum(m); got != want {
			t.Errorf("modeEnum(%q) = %v, want %v", m, got, want)
		}
	}
}
