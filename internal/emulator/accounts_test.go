package emulator

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Two credentials exchange for two service accounts, each token is told apart by the account it
// was minted for, and an account the emulator does not know is refused like a wrong one.
func TestSeveralServiceAccounts(t *testing.T) {
	te := startEmulator(t, Options{ServiceAccounts: map[string]string{"team-a": "svac_teama", "team-b": ""}})
	env := te.CredentialsEnv()
	teamB := env["EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"]
	if !isTaggedID(teamB, "svac_") || teamB == "svac_teama" {
		t.Fatalf("team-b's random service account = %q", teamB)
	}
	tokens := map[string]string{}
	for _, svac := range []string{"svac_teama", teamB, te.Env()["AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"]} {
		body := te.tokenBody(te.mint(t, "https://api.anthropic.com"))
		body["service_account_id"] = svac
		resp, raw := te.postToken(t, context.Background(), tokenHeaders(), body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("exchange for %s: status %d, %s", svac, resp.StatusCode, raw)
		}
		tr := decodeTokenResponse(t, raw)
		if !strings.HasPrefix(tr.AccessToken, accessTokenPrefix) {
			t.Errorf("token for %s is not an sk-ant-oat01- token", svac)
		}
		if got, ok := te.ServiceAccountOf(tr.AccessToken); !ok || got != svac {
			t.Errorf("ServiceAccountOf(token for %s) = %q, %v", svac, got, ok)
		}
		tokens[svac] = tr.AccessToken
	}
	if a, b := tokens["svac_teama"], tokens[teamB]; a == b {
		t.Error("two credentials got the same token")
	}

	body := te.tokenBody(te.mint(t, "https://api.anthropic.com"))
	body["service_account_id"] = "svac_unknown"
	if resp, _ := te.postToken(t, context.Background(), tokenHeaders(), body); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown service account: status %d, want 401", resp.StatusCode)
	}
	if _, ok := te.ServiceAccountOf("sk-ant-oat01-not-minted-here"); ok {
		t.Error("ServiceAccountOf accepts a token the emulator did not mint")
	}
}

// CredentialsEnv is what `extauthz serve` needs for several credentials: the names, each account
// under its prefix, the shared values unprefixed, and no unprefixed service account that every
// credential would fall back to.
func TestCredentialsEnv(t *testing.T) {
	te := startEmulator(t, Options{ServiceAccounts: map[string]string{"team-b": "svac_b", "a-1": "svac_a1"}})
	env := te.CredentialsEnv()
	if got := env["EXTAUTHZ_CREDENTIALS"]; got != "a-1,team-b" {
		t.Errorf("EXTAUTHZ_CREDENTIALS = %q, want a-1,team-b", got)
	}
	for k, want := range map[string]string{
		"EXTAUTHZ_A_1_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID":    "svac_a1",
		"EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_b",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if _, ok := env["AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"]; ok {
		t.Error("CredentialsEnv sets the unprefixed service account")
	}
	single := te.Env()
	delete(single, "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID")
	for k, v := range single {
		if env[k] != v {
			t.Errorf("shared %s = %q, want Env's %q", k, env[k], v)
		}
	}
	if got := startEmulator(t, Options{}).CredentialsEnv(); got != nil {
		t.Errorf("CredentialsEnv without ServiceAccounts = %v, want nil", slices.Sorted(maps.Keys(got)))
	}
}

func TestUnusableServiceAccounts(t *testing.T) {
	_, err := Start(context.Background(), Options{
		ServiceAccounts: map[string]string{"Team_A": "svac_a", "team-b": "svac_with-dash"},
		Logger:          discardLogger(),
	})
	var fields []string
	for _, oe := range OptionErrors(err) {
		fields = append(fields, oe.Field)
	}
	if want := []string{"ServiceAccounts", "ServiceAccounts.team-b"}; !slices.Equal(fields, want) {
		t.Errorf("OptionErrors name %q, want %q", fields, want)
	}
}

func TestCredentialPrefix(t *testing.T) {
	for name, want := range map[string]string{"default": "EXTAUTHZ_DEFAULT_", "team-a": "EXTAUTHZ_TEAM_A_", "a-b-c9": "EXTAUTHZ_A_B_C9_"} {
		if got := CredentialPrefix(name); got != want {
			t.Errorf("CredentialPrefix(%q) = %q, want %q", name, got, want)
		}
	}
}
