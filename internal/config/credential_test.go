package config

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// teamsEnv configures team-a and team-b sharing the organisation and the
// GitHub mint, each with its own service account.
func teamsEnv() map[string]string {
	m := githubEnv()
	delete(m, "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID")
	m["EXTAUTHZ_CREDENTIALS"] = "team-a, team-b"
	m["EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"] = "svac_teama"
	m["EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"] = "svac_teamb"
	return m
}

func TestSeveralCredentialsShareThePlainVariables(t *testing.T) {
	m := teamsEnv()
	m["EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_WORKSPACE_ID"] = "wrkspc_b"
	m["EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"] = "spiffe://cluster.local/ns/a/sa/agent=team-a, spiffe://cluster.local/ns/b/*=team-b"
	c, err := Load(context.Background(), env(m))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cred := range c.Credentials {
		got = append(got, cred.Name+" "+cred.Type()+" "+cred.ServiceAccountID+" "+cred.OrganizationID+" "+cred.WorkspaceID)
	}
	want := []string{
		"team-a github-oidc svac_teama 6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b ",
		"team-b github-oidc svac_teamb 6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b wrkspc_b",
	}
	if !slices.Equal(got, want) {
		t.Errorf("credentials:\n%q\nwant\n%q", got, want)
	}
	if c.Credential("team-b") != c.Credentials[1] || c.Credential("team-c") != nil {
		t.Error("Credential does not find credentials by name")
	}
	wantRules := []PrincipalRule{
		{Principal: "spiffe://cluster.local/ns/a/sa/agent", Credential: "team-a"},
		{Principal: "spiffe://cluster.local/ns/b/", Prefix: true, Credential: "team-b"},
	}
	if !slices.Equal(c.CredentialByPrincipal, wantRules) {
		t.Errorf("rules = %+v, want %+v", c.CredentialByPrincipal, wantRules)
	}
}

// TestOneCredentialIsNamedDefault: without EXTAUTHZ_CREDENTIALS the plain
// variables configure one credential called "default".
func TestOneCredentialIsNamedDefault(t *testing.T) {
	c, err := Load(context.Background(), env(githubEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Credentials) != 1 || c.Credentials[0].Name != "default" || c.Credentials[0].Var("AWF_AUTH_TYPE") != "AWF_AUTH_TYPE" {
		t.Errorf("credentials = %+v", c.Credentials)
	}
	m := githubEnv()
	m["EXTAUTHZ_CREDENTIALS"] = "default"
	m["EXTAUTHZ_DEFAULT_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"] = "svac_own"
	if c, err = Load(context.Background(), env(m)); err != nil {
		t.Fatal(err)
	}
	if c.Credentials[0].ServiceAccountID != "svac_own" {
		t.Errorf("EXTAUTHZ_DEFAULT_ prefix not read when default is listed: %q", c.Credentials[0].ServiceAccountID)
	}
}

// TestCredentialProblemsNameThePrefixedVariable: each problem names the
// credential's own variable, and says when the bad value is the shared one.
func TestCredentialProblemsNameThePrefixedVariable(t *testing.T) {
	m := teamsEnv()
	delete(m, "EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID")
	m["AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"] = "org_1"
	_, err := Load(context.Background(), env(m))
	got := map[string]string{}
	for _, p := range Problems(err) {
		got[p.Var] = p.Msg
	}
	want := []string{
		"EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_ORGANIZATION_ID",
		"EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_ORGANIZATION_ID",
		"EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID",
	}
	if keys := slicesSortedKeys(got); !slices.Equal(keys, want) {
		t.Fatalf("problems name %q, want %q", keys, want)
	}
	if msg := got["EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"]; !strings.Contains(msg, "value from AWF_AUTH_ANTHROPIC_ORGANIZATION_ID") {
		t.Errorf("a shared value's problem does not say where it came from: %q", msg)
	}
	if msg := got["EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"]; !strings.Contains(msg, "or set AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID") {
		t.Errorf("a missing value's problem does not mention the shared variable: %q", msg)
	}
}

func TestBadCredentialLists(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]string
		want []string // variables named, sorted
	}{
		{"malformed name", map[string]string{"EXTAUTHZ_CREDENTIALS": "team-a,Team_B"}, []string{"EXTAUTHZ_CREDENTIALS", "EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"}},
		{"name starting with a digit", map[string]string{"EXTAUTHZ_CREDENTIALS": "team-a,team-b,1x"}, []string{"EXTAUTHZ_CREDENTIALS"}},
		{"name too long", map[string]string{"EXTAUTHZ_CREDENTIALS": "team-a,team-b," + strings.Repeat("a", 33)}, []string{"EXTAUTHZ_CREDENTIALS"}},
		{"duplicate name", map[string]string{"EXTAUTHZ_CREDENTIALS": "team-a,team-b,team-a"}, []string{"EXTAUTHZ_CREDENTIALS"}},
		{"empty entry", map[string]string{"EXTAUTHZ_CREDENTIALS": "team-a,,team-b"}, []string{"EXTAUTHZ_CREDENTIALS"}},
		{"only commas", map[string]string{"EXTAUTHZ_CREDENTIALS": " , "}, []string{"EXTAUTHZ_CREDENTIALS", "EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"}},
		{"prefixed variable for an unlisted name", map[string]string{"EXTAUTHZ_TEAM_C_ANTHROPIC_API_KEY": "sk-ant-api03-x"}, []string{"EXTAUTHZ_TEAM_C_ANTHROPIC_API_KEY"}},
		{"principal for an unknown credential", map[string]string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL": "spiffe://td/ns/c/sa/x=team-c"}, []string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"}},
		{"principal without a name", map[string]string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL": "spiffe://td/ns/a/sa/x"}, []string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"}},
		{"principal twice", map[string]string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL": "spiffe://td/x=team-a,spiffe://td/x=team-b"}, []string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"}},
		{"principal with a space", map[string]string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL": "spiffe://td/a b=team-a"}, []string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"}},
		{"star inside a principal", map[string]string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL": "spiffe://td/*/x=team-a"}, []string{"EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := teamsEnv()
			for k, v := range c.set {
				m[k] = v
			}
			got := problemVars(t, m)
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("problems name %q, want %q", got, c.want)
			}
		})
	}
	// With EXTAUTHZ_CREDENTIALS unset, any prefixed variable is a mistake.
	m := githubEnv()
	m["EXTAUTHZ_TEAM_A_AWF_AUTH_TYPE"] = "oidc-file"
	if got := problemVars(t, m); !slices.Equal(got, []string{"EXTAUTHZ_TEAM_A_AWF_AUTH_TYPE"}) {
		t.Errorf("prefixed variable without EXTAUTHZ_CREDENTIALS: problems name %q", got)
	}
	// Global EXTAUTHZ_ variables are not mistaken for per-credential ones.
	m = githubEnv()
	m["EXTAUTHZ_LOG_LEVEL"] = "debug"
	m["EXTAUTHZ_ECHO_ADDR"] = "127.0.0.1:1"
	if got := problemVars(t, m); len(got) != 0 {
		t.Errorf("global variables reported: %q", got)
	}
}

func TestMixedModes(t *testing.T) {
	m := teamsEnv()
	m["EXTAUTHZ_CREDENTIALS"] = "team-a,team-b,legacy"
	m["EXTAUTHZ_LEGACY_ANTHROPIC_API_KEY"] = "sk-ant-api03-legacy.key"
	delete(m, "AWF_AUTH_TYPE")
	m["EXTAUTHZ_TEAM_A_AWF_AUTH_TYPE"] = "github-oidc"
	m["EXTAUTHZ_TEAM_B_AWF_AUTH_TYPE"] = "github-oidc"
	c, err := Load(context.Background(), env(m))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, cred := range c.Credentials {
		types = append(types, cred.Type())
	}
	if !slices.Equal(types, []string{TypeGitHubOIDC, TypeGitHubOIDC, TypeStaticKey}) {
		t.Errorf("types = %q", types)
	}
}

func slicesSortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestCredentialVariable(t *testing.T) {
	for name, want := range map[string]bool{
		"AWF_AUTH_TYPE": true, "ANTHROPIC_API_KEY": true, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": true,
		"EXTAUTHZ_PROD_ACTIONS_ID_TOKEN_REQUEST_TOKEN": true, "EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_TOKEN_URL": true,
		"EXTAUTHZ_CREDENTIALS": true, "EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL": true,
		"EXTAUTHZ_GRPC_ADDR": false, "EXTAUTHZ_ALLOWED_CALLERS": false, "EXTAUTHZ_TLS_KEY_FILE": false, "OTEL_SERVICE_NAME": false,
	} {
		if got := CredentialVariable(name); got != want {
			t.Errorf("CredentialVariable(%q) = %v, want %v", name, got, want)
		}
	}
}
