package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// jwtBearerGrant is the only grant_type the federation endpoint handles.
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// tokenRequest is the JSON body of POST /v1/oauth/token.
type tokenRequest struct {
	GrantType        string
	Assertion        string
	FederationRuleID string
	OrganizationID   string
	ServiceAccountID string
	WorkspaceID      string // "" when absent
}

// requestError is a malformed token request, answered with 400
// invalid_request_error. Field names the offending body key, if any.
type requestError struct {
	Field   string
	Message string
}

func (e *requestError) Error() string { return e.Message }

func badRequest(field, format string, args ...any) *requestError {
	return &requestError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// tokenRequestFields are the body keys the real gateway passes on; it drops
// every other key, so a misspelt one (federation_rule) would surface later as
// a missing field. The emulator names it at once instead.
var tokenRequestFields = []string{
	"grant_type", "assertion", "federation_rule_id",
	"organization_id", "service_account_id", "workspace_id",
}

// parseTokenRequest parses and shape-checks a token request body: one JSON
// object, only known keys, each once, each a string, the required ones
// present and well formed. Whether the IDs are this emulator's is decided
// later, with a 401.
func parseTokenRequest(body []byte) (tokenRequest, error) {
	fields, err := stringObject(body)
	if err != nil {
		return tokenRequest{}, err
	}
	for _, name := range []string{"grant_type", "assertion", "federation_rule_id", "organization_id", "service_account_id"} {
		if _, ok := fields[name]; !ok {
			return tokenRequest{}, badRequest(name, "%s: field required", name)
		}
	}
	req := tokenRequest{
		GrantType:        fields["grant_type"],
		Assertion:        fields["assertion"],
		FederationRuleID: fields["federation_rule_id"],
		OrganizationID:   fields["organization_id"],
		ServiceAccountID: fields["service_account_id"],
		WorkspaceID:      fields["workspace_id"],
	}
	_, hasWorkspace := fields["workspace_id"]
	switch {
	case req.GrantType != jwtBearerGrant:
		return req, badRequest("grant_type", "grant_type: unsupported grant type; want %s", jwtBearerGrant)
	case req.Assertion == "":
		return req, badRequest("assertion", "assertion: must not be empty")
	case len(req.Assertion) > maxAssertionBytes:
		return req, badRequest("assertion", "assertion: longer than %d bytes", maxAssertionBytes)
	case !isTaggedID(req.FederationRuleID, "fdrl_"):
		return req, badRequest("federation_rule_id", "federation_rule_id: not a well-formed fdrl_ ID")
	case !isUUID(req.OrganizationID):
		return req, badRequest("organization_id", "organization_id: not a UUID")
	case !isTaggedID(req.ServiceAccountID, "svac_"):
		return req, badRequest("service_account_id", "service_account_id: not a well-formed svac_ ID")
	case hasWorkspace && req.WorkspaceID != "default" && !isTaggedID(req.WorkspaceID, "wrkspc_"):
		return req, badRequest("workspace_id", "workspace_id: must be a wrkspc_ ID or \"default\"")
	}
	return req, nil
}

// stringObject decodes body as a single JSON object whose keys are all in
// tokenRequestFields, each present at most once, each with a string value.
func stringObject(body []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, badRequest("", "body: must be a JSON object")
	}
	fields := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badRequest("", "body: invalid JSON")
		}
		key := tok.(string) // inside an object, the decoder yields only string keys
		if !slices.Contains(tokenRequestFields, key) {
			return nil, badRequest(key, "%q: unknown field (accepted: %s)", truncate(key, 64), strings.Join(tokenRequestFields, ", "))
		}
		if _, dup := fields[key]; dup {
			return nil, badRequest(key, "%s: field given more than once", key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, badRequest(key, "body: invalid JSON")
		}
		var value string
		if !bytes.HasPrefix(raw, []byte(`"`)) || json.Unmarshal(raw, &value) != nil {
			return nil, badRequest(key, "%s: must be a string", key)
		}
		fields[key] = value
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, badRequest("", "body: invalid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("", "body: trailing data after the JSON object")
	}
	return fields, nil
}

// isTaggedID reports whether s is prefix followed by 1–128 ASCII letters and
// digits, the shape of Anthropic's tagged IDs.
func isTaggedID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || rest == "" || len(rest) > 128 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
