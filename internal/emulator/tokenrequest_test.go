package emulator

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
)

const (
	testRule = "fdrl_01ABCdef"
	testOrg  = "0f8fad5b-d9cb-469f-a165-70867728950e"
	testSvac = "svac_01XYZ"
)

// validTokenBody is a well-formed body with the given extra raw members
// (`"key":value` text) appended.
func validTokenBody(extra ...string) string {
	members := append([]string{
		`"grant_type":"` + jwtBearerGrant + `"`,
		`"assertion":"a.b.c"`,
		`"federation_rule_id":"` + testRule + `"`,
		`"organization_id":"` + testOrg + `"`,
		`"service_account_id":"` + testSvac + `"`,
	}, extra...)
	return "{" + strings.Join(members, ",") + "}"
}

func TestParseTokenRequestAccepts(t *testing.T) {
	for name, body := range map[string]string{
		"required fields":   validTokenBody(),
		"default workspace": validTokenBody(`"workspace_id":"default"`),
		"tagged workspace":  validTokenBody(`"workspace_id":"wrkspc_01Abc"`),
		"whitespace around": " \n" + validTokenBody() + "\n ",
	} {
		req, err := parseTokenRequest([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if req.Assertion != "a.b.c" || req.FederationRuleID != testRule || req.OrganizationID != testOrg || req.ServiceAccountID != testSvac {
			t.Errorf("%s: parsed %+v", name, req)
		}
	}
}

func TestParseTokenRequestRefuses(t *testing.T) {
	withField := func(key, value string) string {
		return strings.Replace(validTokenBody(), `"`+key+`":"`, `"`+key+`":`+value+`,"_`+key+`":"`, 1)
	}
	cases := []struct {
		name, body, field string
	}{
		{"misspelt key", validTokenBody(`"federation_rule":"` + testRule + `"`), "federation_rule"},
		{"scope is never sent", validTokenBody(`"scope":"user:inference"`), "scope"},
		{"key case differs", strings.Replace(validTokenBody(), "grant_type", "Grant_Type", 1), "Grant_Type"},
		{"duplicate key", validTokenBody(`"assertion":"x.y.z"`), "assertion"},
		{"missing assertion", strings.Replace(validTokenBody(), `"assertion":"a.b.c",`, "", 1), "assertion"},
		{"missing service account", strings.Replace(validTokenBody(), `,"service_account_id":"`+testSvac+`"`, "", 1), "service_account_id"},
		{"number value", strings.Replace(validTokenBody(), `"a.b.c"`, `7`, 1), "assertion"},
		{"null value", strings.Replace(validTokenBody(), `"a.b.c"`, `null`, 1), "assertion"},
		{"object value", strings.Replace(validTokenBody(), `"a.b.c"`, `{"a":"b"}`, 1), "assertion"},
		{"empty assertion", strings.Replace(validTokenBody(), `"a.b.c"`, `""`, 1), "assertion"},
		{"assertion over 16 KiB", strings.Replace(validTokenBody(), "a.b.c", strings.Repeat("a", maxAssertionBytes+1), 1), "assertion"},
		{"other grant", strings.Replace(validTokenBody(), jwtBearerGrant, "client_credentials", 1), "grant_type"},
		{"rule without prefix", strings.Replace(validTokenBody(), testRule, "01ABCdef", 1), "federation_rule_id"},
		{"rule with bare prefix", strings.Replace(validTokenBody(), testRule, "fdrl_", 1), "federation_rule_id"},
		{"rule with odd bytes", strings.Replace(validTokenBody(), testRule, "fdrl_a/b", 1), "federation_rule_id"},
		{"organization not a UUID", strings.Replace(validTokenBody(), testOrg, "org_123", 1), "organization_id"},
		{"service account prefix", strings.Replace(validTokenBody(), testSvac, "sa_01XYZ", 1), "service_account_id"},
		{"empty workspace", validTokenBody(`"workspace_id":""`), "workspace_id"},
		{"named workspace", validTokenBody(`"workspace_id":"my-workspace"`), "workspace_id"},
		{"nested object smuggles a key", withField("organization_id", `{"x":1}`), "organization_id"},
		{"not an object", `["grant_type"]`, ""},
		{"null body", `null`, ""},
		{"empty body", ``, ""},
		{"trailing data", validTokenBody() + `{}`, ""},
		{"truncated", strings.TrimSuffix(validTokenBody(), "}"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseTokenRequest([]byte(c.body))
			re, ok := errors.AsType[*requestError](err)
			if !ok {
				t.Fatalf("got %v, want a *requestError", err)
			}
			if re.Field != c.field {
				t.Errorf("error names field %q, want %q", re.Field, c.field)
			}
		})
	}
}

var (
	taggedRule      = regexp.MustCompile(`^fdrl_[A-Za-z0-9]{1,128}$`)
	taggedSvac      = regexp.MustCompile(`^svac_[A-Za-z0-9]{1,128}$`)
	taggedWorkspace = regexp.MustCompile(`^(default|wrkspc_[A-Za-z0-9]{1,128})$`)
	uuidPattern     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// FuzzTokenRequest feeds arbitrary bodies to the token endpoint's parser. It
// must never panic, must refuse only with a *requestError, and whatever it
// accepts must pass an independent reading of the rules: a JSON object of
// known string fields, the required ones present and well formed.
func FuzzTokenRequest(f *testing.F) {
	f.Add([]byte(validTokenBody()))
	f.Add([]byte(validTokenBody(`"workspace_id":"default"`)))
	f.Add([]byte(validTokenBody(`"federation_rule":"x"`)))
	f.Add([]byte(validTokenBody(`"assertion":"dup"`)))
	f.Add([]byte(`{"grant_type":1}`))
	f.Add([]byte(`{"assertion":"\u0061\ud800"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{}{}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseTokenRequest(body)
		if err != nil {
			if _, ok := errors.AsType[*requestError](err); !ok {
				t.Fatalf("refused with %T, want *requestError", err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || m == nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		allowed := map[string]bool{}
		for _, k := range tokenRequestFields {
			allowed[k] = true
		}
		for k, v := range m {
			if !allowed[k] {
				t.Fatalf("accepted unknown key %q", k)
			}
			if _, ok := v.(string); !ok {
				t.Fatalf("accepted non-string %s", k)
			}
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		ws, hasWS := m["workspace_id"]
		switch {
		case str("grant_type") != jwtBearerGrant:
			t.Fatal("accepted another grant_type")
		case str("assertion") == "" || len(str("assertion")) > maxAssertionBytes:
			t.Fatalf("accepted an assertion of %d bytes", len(str("assertion")))
		case !taggedRule.MatchString(str("federation_rule_id")):
			t.Fatal("accepted a malformed federation_rule_id")
		case !uuidPattern.MatchString(str("organization_id")):
			t.Fatal("accepted a malformed organization_id")
		case !taggedSvac.MatchString(str("service_account_id")):
			t.Fatal("accepted a malformed service_account_id")
		case hasWS && !taggedWorkspace.MatchString(ws.(string)):
			t.Fatal("accepted a malformed workspace_id")
		}
		want := tokenRequest{
			GrantType: str("grant_type"), Assertion: str("assertion"),
			FederationRuleID: str("federation_rule_id"), OrganizationID: str("organization_id"),
			ServiceAccountID: str("service_account_id"), WorkspaceID: str("workspace_id"),
		}
		if req != want {
			t.Fatal("parsed fields differ from an independent decoding")
		}
	})
}
