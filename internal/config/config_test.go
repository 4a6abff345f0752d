package config

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// env returns a lookup over m, like os.LookupEnv.
func env(m map[string]string) Env {
	return MapEnv(m)
}

func githubEnv() map[string]string {
	return map[string]string{
		"AWF_AUTH_TYPE":                         "github-oidc",
		"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID": "fdrl_01abc",
		"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID":    "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b",
		"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_01xyz",
		"ACTIONS_ID_TOKEN_REQUEST_URL":          "https://pipelines.actions.githubusercontent.com/abc/_apis/oidc/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN":        "request-token-secret-value",
	}
}

func fileEnv(t *testing.T) map[string]string {
	m := githubEnv()
	delete(m, "ACTIONS_ID_TOKEN_REQUEST_URL")
	delete(m, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	m["AWF_AUTH_TYPE"] = "oidc-file"
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("eyJ.x.y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m["AWF_AUTH_OIDC_TOKEN_FILE"] = path
	return m
}

// problemVars loads m and returns the variables named by the problems.
func problemVars(t *testing.T, m map[string]string) []string {
	t.Helper()
	_, err := Load(context.Background(), env(m))
	var vars []string
	for _, p := range Problems(err) {
		vars = append(vars, p.Var)
	}
	if err != nil && len(vars) == 0 {
		t.Fatalf("Load error carries no Problem: %v", err)
	}
	return vars
}

func TestDefaults(t *testing.T) {
	c, err := Load(context.Background(), env(map[string]string{"ANTHROPIC_API_KEY": " sk-ant-api03-k \n"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Credentials) != 1 || c.Credentials[0].Name != DefaultCredential {
		t.Fatalf("credentials = %v, want the one credential %q", c.Credentials, DefaultCredential)
	}
	cred := c.Credentials[0]
	if cred.Type() != TypeStaticKey || cred.APIKey.Reveal() != "sk-ant-api03-k" {
		t.Errorf("static-key mode not detected or key not trimmed: type %s, key length %d", cred.Type(), cred.APIKey.Len())
	}
	got := []string{cred.Provider, cred.TokenURL, cred.Audience, c.GRPCAddr, c.HTTPAddr, c.AdminAddr, c.LogLevel, c.LogFormat}
	want := []string{"anthropic", "https://api.anthropic.com/v1/oauth/token", "https://api.anthropic.com",
		"127.0.0.1:9191", "127.0.0.1:9192", "127.0.0.1:9193", "info", "json"}
	if !slices.Equal(got, want) {
		t.Errorf("defaults = %q, want %q", got, want)
	}
}

func TestValidModes(t *testing.T) {
	for name, m := range map[string]map[string]string{
		"github-oidc": githubEnv(),
		"oidc-file":   fileEnv(t),
		"static-key":  {"ANTHROPIC_API_KEY": "k", "AWF_AUTH_TYPE": "   "},
		"loopback http token URL": func() map[string]string {
			m := githubEnv()
			m["AWF_AUTH_ANTHROPIC_TOKEN_URL"] = "http://127.0.0.1:8080/v1/oauth/token"
			m["ACTIONS_ID_TOKEN_REQUEST_URL"] = "http://[::1]:8080/_apis/oidc/token?api-version=2.0"
			return m
		}(),
		"unix socket and upper case": func() map[string]string {
			m := githubEnv()
			m["AWF_AUTH_TYPE"] = "GitHub-OIDC"
			m["AWF_AUTH_PROVIDER"] = "Anthropic"
			m["EXTAUTHZ_GRPC_ADDR"] = "unix:/run/extauthz.sock"
			m["EXTAUTHZ_HTTP_ADDR"] = "off"
			m["EXTAUTHZ_ALLOWED_HOSTS"] = " API.anthropic.com , ,localhost,[::1],127.0.0.1,gateway.example."
			m["AWF_AUTH_ANTHROPIC_WORKSPACE_ID"] = "default"
			return m
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			if vars := problemVars(t, m); len(vars) != 0 {
				t.Errorf("unexpected problems with %v", vars)
			}
		})
	}
	c, err := Load(context.Background(), env(map[string]string{"ANTHROPIC_API_KEY": "k", "EXTAUTHZ_ALLOWED_HOSTS": " API.anthropic.com , ,localhost"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.AllowedHosts, []string{"api.anthropic.com", "localhost"}) {
		t.Errorf("AllowedHosts = %q", c.AllowedHosts)
	}
}

func TestEveryRequiredVariableMissingInTurn(t *testing.T) {
	cases := map[string][]string{
		"github-oidc": {"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID",
			"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"},
		"oidc-file": {"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID",
			"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "AWF_AUTH_OIDC_TOKEN_FILE"},
	}
	for typ, vars := range cases {
		for _, v := range vars {
			for _, value := range []string{"", "   "} { // unset and blank are the same
				t.Run(typ+"/"+v, func(t *testing.T) {
					m := githubEnv()
					if typ == "oidc-file" {
						m = fileEnv(t)
					}
					if value == "" {
						delete(m, v)
					} else {
						m[v] = value
					}
					if got := problemVars(t, m); !slices.Equal(got, []string{v}) {
						t.Errorf("problems name %v, want exactly [%s]", got, v)
					}
				})
			}
		}
	}
	if got := problemVars(t, map[string]string{}); !slices.Equal(got, []string{"ANTHROPIC_API_KEY"}) {
		t.Errorf("empty environment: problems name %v, want [ANTHROPIC_API_KEY]", got)
	}
}

func TestMalformedValues(t *testing.T) {
	cases := []struct{ v, value string }{
		{"AWF_AUTH_TYPE", "azure-oidc"},
		{"AWF_AUTH_PROVIDER", "openai"},
		{"AWF_AUTH_ANTHROPIC_TOKEN_URL", "http://api.anthropic.com/v1/oauth/token"},
		{"AWF_AUTH_ANTHROPIC_TOKEN_URL", "http://localhost.evil.example/v1/oauth/token"},
		{"AWF_AUTH_ANTHROPIC_TOKEN_URL", "http://127.0.0.1.nip.io/v1/oauth/token"},
		{"AWF_AUTH_ANTHROPIC_TOKEN_URL", "/v1/oauth/token"},
		{"AWF_AUTH_ANTHROPIC_TOKEN_URL", "ftp://api.anthropic.com/"},
		{"AWF_AUTH_ANTHROPIC_TOKEN_URL", "https://"},
		{"ACTIONS_ID_TOKEN_REQUEST_URL", "http://github.example/_apis/oidc/token"},
		{"ACTIONS_ID_TOKEN_REQUEST_URL", "::not a url"},
		{"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "rule-1"},
		{"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "org_123"},
		{"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID", "sa_1"},
		{"AWF_AUTH_ANTHROPIC_WORKSPACE_ID", "my-workspace"},
		{"EXTAUTHZ_GRPC_ADDR", "9191"},
		{"EXTAUTHZ_GRPC_ADDR", "unix:relative.sock"},
		{"EXTAUTHZ_GRPC_ADDR", "off"},
		{"EXTAUTHZ_HTTP_ADDR", "127.0.0.1:99999"},
		{"EXTAUTHZ_ALLOWED_HOSTS", "https://api.anthropic.com"},
		{"EXTAUTHZ_ALLOWED_HOSTS", "api.anthropic.com:443"},
		{"EXTAUTHZ_ALLOWED_HOSTS", ","},
		{"EXTAUTHZ_ALLOWED_HOSTS", " , ,"},
		{"EXTAUTHZ_ALLOWED_HOSTS", "*.anthropic.com"},
		// Hosts no authority can name (authz.AllowedHostProblem).
		{"EXTAUTHZ_ALLOWED_HOSTS", "fe80::1%eth0"},
		{"EXTAUTHZ_ALLOWED_HOSTS", "[192.0.2.7]"},
		{"EXTAUTHZ_ALLOWED_HOSTS", "0177.0.0.1"},
		{"EXTAUTHZ_ALLOWED_HOSTS", "example.123"},
		{"EXTAUTHZ_LOG_LEVEL", "verbose"},
		{"EXTAUTHZ_LOG_FORMAT", "xml"},
	}
	for _, c := range cases {
		t.Run(c.v+"="+c.value, func(t *testing.T) {
			m := githubEnv()
			m[c.v] = c.value
			if got := problemVars(t, m); !slices.Equal(got, []string{c.v}) {
				t.Errorf("problems name %v, want exactly [%s]", got, c.v)
			}
		})
	}
}

// TestHTTPAddrOffAnyCase: "off" is accepted in any case and handed on
// lower-cased, so the service's own test for it cannot disagree.
func TestHTTPAddrOffAnyCase(t *testing.T) {
	for _, v := range []string{"off", "OFF", " Off "} {
		c, err := Load(context.Background(), env(map[string]string{"ANTHROPIC_API_KEY": "k", "EXTAUTHZ_HTTP_ADDR": v}))
		if err != nil {
			t.Fatalf("EXTAUTHZ_HTTP_ADDR=%q: %v", v, err)
		}
		if c.HTTPAddr != "off" {
			t.Errorf("EXTAUTHZ_HTTP_ADDR=%q became %q, want off", v, c.HTTPAddr)
		}
	}
}

// TestCredentialsMustBeHeaderText: a key or request token that authz or
// net/http could not send is a configuration error, not a service that
// denies every request.
func TestCredentialsMustBeHeaderText(t *testing.T) {
	for _, bad := range []string{"sk-ant-api03-a\tb", "sk-ant-api03-a\r\nx-evil: 1", "sk-ant-api03-\xff", "sk-ant-api03-a\x7f"} {
		m := map[string]string{"ANTHROPIC_API_KEY": bad}
		if got := problemVars(t, m); !slices.Equal(got, []string{"ANTHROPIC_API_KEY"}) {
			t.Errorf("key with a control byte or invalid UTF-8: problems name %v", got)
		}
		m = githubEnv()
		m["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = bad
		if got := problemVars(t, m); !slices.Equal(got, []string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN"}) {
			t.Errorf("request token with a control byte or invalid UTF-8: problems name %v", got)
		}
	}
	if got := problemVars(t, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-api03-ok"}); len(got) != 0 {
		t.Errorf("plain key refused: %v", got)
	}
}

func TestTokenFileMustExist(t *testing.T) {
	m := fileEnv(t)
	m["AWF_AUTH_OIDC_TOKEN_FILE"] = filepath.Join(t.TempDir(), "missing")
	if got := problemVars(t, m); !slices.Equal(got, []string{"AWF_AUTH_OIDC_TOKEN_FILE"}) {
		t.Errorf("missing file: problems name %v", got)
	}
	m["AWF_AUTH_OIDC_TOKEN_FILE"] = t.TempDir()
	if got := problemVars(t, m); !slices.Equal(got, []string{"AWF_AUTH_OIDC_TOKEN_FILE"}) {
		t.Errorf("directory: problems name %v", got)
	}
}

func TestAllProblemsAtOnceWithoutSecrets(t *testing.T) {
	m := map[string]string{
		"AWF_AUTH_TYPE":                  "github-oidc",
		"AWF_AUTH_PROVIDER":              "bedrock",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "secret-request\ntoken",
		"EXTAUTHZ_LOG_LEVEL":             "loud",
	}
	_, err := Load(context.Background(), env(m))
	vars := map[string]bool{}
	for _, p := range Problems(err) {
		vars[p.Var] = true
	}
	for _, v := range []string{"AWF_AUTH_PROVIDER", "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID",
		"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID",
		"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "EXTAUTHZ_LOG_LEVEL"} {
		if !vars[v] {
			t.Errorf("no problem reported for %s", v)
		}
	}
	if strings.Contains(err.Error(), "secret-request") {
		t.Error("a problem message contains the request token")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.Contains(line, ": ") || strings.ToUpper(line[:1]) != line[:1] {
			t.Errorf("problem line %q does not start with the variable name", line)
		}
	}
}
