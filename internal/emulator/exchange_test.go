package emulator

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestExchangeMintsAToken(t *testing.T) {
	te := startEmulator(t, Options{})
	resp, body := te.postToken(t, context.Background(), tokenHeaders(), te.tokenBody(te.mint(t, "https://api.anthropic.com")))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	tr := te.exchange(t, te.mint(t, "https://api.anthropic.com"))
	if !strings.HasPrefix(tr.AccessToken, "sk-ant-oat01-") || len(tr.AccessToken) < 40 {
		t.Errorf("access token has %d bytes and the wrong shape", len(tr.AccessToken))
	}
	if tr.TokenType != "Bearer" || tr.ExpiresIn != 20 || tr.Scope != "user:inference" {
		t.Errorf("token_type %q, expires_in %d, scope %q; want Bearer, 20, user:inference", tr.TokenType, tr.ExpiresIn, tr.Scope)
	}
	if !te.Valid(tr.AccessToken) {
		t.Error("Valid rejects a token the emulator just minted")
	}
	if got, want := te.Stats(), (Stats{Mints: 2, Exchanges: 2}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestExchangeAcceptsWorkspaceAndBetaVariants(t *testing.T) {
	te := startEmulator(t, Options{TokenLifetime: 90 * time.Second})
	for name, c := range map[string]struct {
		workspace string
		header    http.Header
	}{
		"default workspace":   {"default", tokenHeaders()},
		"tagged workspace":    {"wrkspc_01AbC", tokenHeaders()},
		"betas on two lines":  {"", http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Anthropic-Beta": {"oidc-federation-2026-04-01", "oauth-2025-04-20"}}},
		"betas spaced, extra": {"", http.Header{"Content-Type": {"application/json"}, "Anthropic-Beta": {"x-other, oauth-2025-04-20 , oidc-federation-2026-04-01"}}},
	} {
		t.Run(name, func(t *testing.T) {
			body := te.tokenBody(te.mint(t, "https://api.anthropic.com"))
			if c.workspace != "" {
				body["workspace_id"] = c.workspace
			}
			resp, raw := te.postToken(t, context.Background(), c.header, body)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, body %s", resp.StatusCode, raw)
			}
		})
	}
}

// TestExchangeRejections drives every refusal through HTTP. The 401s all
// look alike from outside; TestVerifyAssertion tells their reasons apart.
func TestExchangeRejections(t *testing.T) {
	te := startEmulator(t, Options{})
	fresh := func() string { return te.mint(t, "https://api.anthropic.com") }
	type prepare func() (http.Header, any)
	assertion := func(jwt func() string) prepare {
		return func() (http.Header, any) { return tokenHeaders(), te.tokenBody(jwt()) }
	}
	field := func(key, value string) prepare {
		return func() (http.Header, any) {
			b := te.tokenBody(fresh())
			b[key] = value
			return tokenHeaders(), b
		}
	}
	header := func(key, value string) prepare { // "" deletes
		return func() (http.Header, any) {
			h := tokenHeaders()
			h.Del(key)
			if value != "" {
				h.Set(key, value)
			}
			return h, te.tokenBody(fresh())
		}
	}
	cases := []struct {
		name    string
		prepare prepare
		status  int
		errType string
	}{
		{"replayed jti", assertion(func() string {
			jwt := fresh()
			te.exchange(t, jwt)
			return jwt
		}), 401, "authentication_error"},
		{"wrong audience", assertion(func() string { return te.mint(t, "https://example.com") }), 401, "authentication_error"},
		{"default GitHub audience", assertion(func() string { return te.mint(t, "") }), 401, "authentication_error"},
		{"expired JWT", assertion(func() string {
			jwt := fresh()
			te.clock.Advance(5*time.Minute + clockLeeway)
			return jwt
		}), 401, "authentication_error"},
		{"bad signature", assertion(func() string { return tamperSignature(fresh()) }), 401, "authentication_error"},
		{"unknown kid", assertion(func() string { return forge(t, otherKey(t), nil, te.claims(nil)) }), 401, "authentication_error"},
		{"alg none", assertion(func() string {
			return unsigned(t, map[string]any{"alg": "none", "kid": te.key.kid}, te.claims(nil))
		}), 401, "authentication_error"},
		{"alg HS256", assertion(func() string {
			return forge(t, te.key, map[string]any{"alg": "HS256", "kid": te.key.kid}, te.claims(nil))
		}), 401, "authentication_error"},
		{"oversized assertion", assertion(func() string { return fresh() + strings.Repeat("A", maxAssertionBytes) }), 400, "invalid_request_error"},
		{"wrong rule", field("federation_rule_id", "fdrl_someoneElse"), 401, "authentication_error"},
		{"wrong organization", field("organization_id", randomUUID()), 401, "authentication_error"},
		{"wrong service account", field("service_account_id", "svac_someoneElse"), 401, "authentication_error"},
		{"unknown body key", field("federation_rule", "fdrl_x"), 400, "invalid_request_error"},
		{"refresh_token grant", field("grant_type", "refresh_token"), 400, "invalid_request_error"},
		{"malformed workspace", field("workspace_id", "my-workspace"), 400, "invalid_request_error"},
		{"missing oidc-federation beta", header("Anthropic-Beta", "oauth-2025-04-20"), 400, "invalid_request_error"},
		{"missing oauth beta", header("Anthropic-Beta", "oidc-federation-2026-04-01"), 400, "invalid_request_error"},
		{"no beta header", header("Anthropic-Beta", ""), 400, "invalid_request_error"},
		{"form content type", header("Content-Type", "application/x-www-form-urlencoded"), 400, "invalid_request_error"},
		{"no content type", header("Content-Type", ""), 400, "invalid_request_error"},
		{"body over 64 KiB", func() (http.Header, any) {
			return tokenHeaders(), []byte(`{"grant_type":"` + strings.Repeat(" ", maxBodyBytes) + `"}`)
		}, 413, "request_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := te.Stats()
			h, body := c.prepare()
			resp, raw := te.postToken(t, context.Background(), h, body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, c.status, raw)
			}
			ae := decodeAPIError(t, raw)
			if ae.Error.Type != c.errType {
				t.Errorf("error.type %q, want %q", ae.Error.Type, c.errType)
			}
			if c.status == 401 && ae.Error.Message != "Authentication failed" {
				t.Errorf("401 message %q is not the opaque one", ae.Error.Message)
			}
			after := te.Stats()
			if after.Rejected != before.Rejected+1 || after.Exchanges != before.Exchanges+boolInt(c.name == "replayed jti") {
				t.Errorf("Stats went from %+v to %+v", before, after)
			}
		})
	}
}

func TestTokenEndpointRefusesOtherMethods(t *testing.T) {
	te := startEmulator(t, Options{})
	req, _ := http.NewRequest(http.MethodGet, te.Env()["AWF_AUTH_ANTHROPIC_TOKEN_URL"], nil)
	resp, body := te.do(t, req)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	decodeAPIError(t, body)
}

func TestValid(t *testing.T) {
	te := startEmulator(t, Options{TokenLifetime: 61500 * time.Millisecond})
	tr := te.exchange(t, te.mint(t, "https://api.anthropic.com"))
	if tr.ExpiresIn != 61 {
		t.Errorf("expires_in %d, want the lifetime in whole seconds, 61", tr.ExpiresIn)
	}
	for _, bogus := range []string{"", "sk-ant-oat01-", "sk-ant-oat01-" + randomToken(), tr.AccessToken + "x"} {
		if te.Valid(bogus) {
			t.Errorf("Valid accepts a token of %d bytes the emulator never minted", len(bogus))
		}
	}
	te.clock.Advance(60 * time.Second)
	if !te.Valid(tr.AccessToken) {
		t.Error("token invalid before expires_in has passed")
	}
	te.clock.Advance(time.Second)
	if te.Valid(tr.AccessToken) {
		t.Error("token still valid once expires_in has passed")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// claims are valid assertion claims for te at its clock, with overrides
// (a nil value deletes the claim).
func (te *testEmulator) claims(overrides map[string]any) map[string]any {
	now := te.clock.Now().Unix()
	c := map[string]any{
		"iss": te.URL(), "sub": devSubject, "aud": te.opts.Audience,
		"jti": randomUUID(), "iat": now, "nbf": now, "exp": now + 300,
	}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// forge signs claims with key under header (nil: the normal ES256 header
// naming key).
func forge(t *testing.T, key *signingKey, header, claims map[string]any) string {
	t.Helper()
	var h any = jwsHeader{Alg: es256, Typ: "JWT", Kid: key.kid}
	if header != nil {
		h = header
	}
	jwt, err := key.signCompact(h, claims)
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

// unsigned is a JWS with an empty signature, as alg "none" produces.
func unsigned(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	input, err := signingInput(header, claims)
	if err != nil {
		t.Fatal(err)
	}
	return input + "."
}

// tamperSignature flips one bit in the signature.
func tamperSignature(jwt string) string {
	i := strings.LastIndex(jwt, ".") + 1
	b := []byte(jwt)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func otherKey(t *testing.T) *signingKey {
	t.Helper()
	k, err := newSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
