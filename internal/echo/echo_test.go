package echo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"extauthz/internal/leakcheck"
	"extauthz/internal/secret"
)

const (
	token  = "sk-ant-oat01-echo-test-token-0123456789abcdef"
	apiKey = "sk-ant-api03-echo-test-key-0123456789abcdef"
)

func TestHandlerDescribesTheRequest(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages?beta=true", strings.NewReader(`{"model":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "api.anthropic.com"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Add("Anthropic-Beta", "tools-2024-04-04")
	req.Header.Add("anthropic-beta", "oauth-2025-04-20") // another line, non-canonical name
	req.Header.Set("X-Note", "a<b & c>d")
	req.Header.Set("X-Misplaced-Key", apiKey) // a key in a header not meant for one
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if leaks := leakcheck.Find(string(body), token, apiKey); len(leaks) > 0 {
		t.Fatalf("the reply holds credentials: %v", leaks)
	}
	if !strings.Contains(string(body), "\n    \"x-note\": [\"a<b & c>d\"]") {
		t.Errorf("the reply does not show a header on one line with <, > and & as they are:\n%s", body)
	}
	var got Reply
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := Reply{
		Method: "POST",
		Path:   "/v1/messages?beta=true",
		Host:   "api.anthropic.com",
		Headers: map[string][]string{
			"authorization":   {"Bearer sk-ant-oat01-… (fingerprint " + secret.New(token).Fingerprint() + ")"},
			"x-api-key":       {"sk-ant-api03-… (fingerprint " + secret.New(apiKey).Fingerprint() + ")"},
			"anthropic-beta":  {"tools-2024-04-04", "oauth-2025-04-20"},
			"x-note":          {"a<b & c>d"},
			"x-misplaced-key": {secret.Redacted},
			"content-length":  {"13"},
			"accept-encoding": {"gzip"},
			"user-agent":      {"Go-http-client/1.1"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reply\n%+v\nwant\n%+v", got, want)
	}
}

func TestHandlerAnswersAnyMethodAndPath(t *testing.T) {
	for _, method := range []string{"GET", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest(method, "http://echo.local/any/where?key="+apiKey, nil))
		var got Reply
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d, %v", method, rec.Code, err)
		}
		if got.Method != method || got.Path != "/any/where?key="+secret.Redacted || got.Host != "echo.local" || len(got.Headers) != 0 {
			t.Errorf("%s: %+v", method, got)
		}
	}
}

// TestReplyLayout pins the layout docs/deploy-compose.md shows.
func TestReplyLayout(t *testing.T) {
	r := Reply{Method: "GET", Path: "/v1/messages", Host: "api.anthropic.com", Headers: map[string][]string{
		"x-b": {"2", "3"}, "accept": {"*/*"},
	}}
	want := `{
  "method": "GET",
  "path": "/v1/messages",
  "host": "api.anthropic.com",
  "headers": {
    "accept": ["*/*"],
    "x-b": ["2","3"]
  }
}
`
	if got := string(r.format()); got != want {
		t.Errorf("layout\n%s\nwant\n%s", got, want)
	}
	if got := string((Reply{Headers: map[string][]string{}}).format()); !strings.HasSuffix(got, `"headers": {}`+"\n}\n") {
		t.Errorf("no headers: %s", got)
	}
}
