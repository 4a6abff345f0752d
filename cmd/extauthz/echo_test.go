package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"extauthz/internal/echo"
	"extauthz/internal/secret"
)

func TestEchoCommand(t *testing.T) {
	const bearer = "sk-ant-oat01-cmd-echo-test-token-0123456789"
	suiteOutput.Remember(bearer)
	url, stop, stderr := startHelper(t, mapEnv(map[string]string{"EXTAUTHZ_ECHO_ADDR": "127.0.0.1:0"}), "echo")
	req, err := http.NewRequest(http.MethodPost, url+"/v1/messages", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Anthropic-Beta", "tools-2024-04-04,oauth-2025-04-20")
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	suiteOutput.Write(body)
	var reply echo.Reply
	if err := json.Unmarshal(body, &reply); err != nil {
		t.Fatalf("not an echo reply: %v", err)
	}
	wantAuth := "Bearer sk-ant-oat01-… (fingerprint " + secret.New(bearer).Fingerprint() + ")"
	if reply.Method != "POST" || reply.Path != "/v1/messages" || len(reply.Headers["authorization"]) != 1 ||
		reply.Headers["authorization"][0] != wantAuth || reply.Headers["anthropic-beta"][0] != "tools-2024-04-04,oauth-2025-04-20" {
		t.Errorf("reply %+v", reply)
	}
	client.CloseIdleConnections()
	if code := stop(); code != exitOK {
		t.Errorf("echo exit %d after the stop signal:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("echo did not log its stop:\n%s", stderr)
	}
}

func TestEchoCommandRefusesABadAddress(t *testing.T) {
	code, stdout, stderr := invoke(t, mapEnv(map[string]string{"EXTAUTHZ_ECHO_ADDR": "8081"}), "echo")
	wantConfigProblems(t, code, stdout, stderr, "EXTAUTHZ_ECHO_ADDR")
}
