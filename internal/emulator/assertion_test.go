package emulator

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestVerifyAssertion checks each rule of the token endpoint on its own, and
// the 30 s leeway at both sides of its edge.
func TestVerifyAssertion(t *testing.T) {
	te := startEmulator(t, Options{})
	now := te.clock.Now().Unix()
	signed := func(claims map[string]any) string { return forge(t, te.key, nil, te.claims(claims)) }
	cases := []struct {
		name string
		jwt  string
		want error // nil: accepted
	}{
		{"valid", signed(nil), nil},
		{"aud array containing the audience", signed(map[string]any{"aud": []string{"x", te.opts.Audience}}), nil},
		{"fractional dates", signed(map[string]any{"iat": float64(now) + 0.5, "exp": float64(now) + 60.25}), nil},
		{"no nbf", signed(map[string]any{"nbf": nil}), nil},
		{"exp 29 s ago", signed(map[string]any{"iat": now - 100, "exp": now - 29}), nil},
		{"exp 30 s ago", signed(map[string]any{"iat": now - 100, "exp": now - 30}), errExpired},
		{"iat 30 s ahead", signed(map[string]any{"iat": now + 30, "nbf": nil}), nil},
		{"iat 31 s ahead", signed(map[string]any{"iat": now + 31, "nbf": nil}), errIssuedInFuture},
		{"nbf 31 s ahead", signed(map[string]any{"nbf": now + 31}), errNotYetValid},
		{"lifetime exactly 1 h", signed(map[string]any{"exp": now + 3600}), nil},
		{"lifetime over 1 h", signed(map[string]any{"exp": now + 3601}), errLifetimeTooLong},
		{"wrong issuer", signed(map[string]any{"iss": te.URL() + "/"}), errWrongIssuer},
		{"wrong audience", signed(map[string]any{"aud": "https://api.anthropic.com/"}), errWrongAudience},
		{"aud array without the audience", signed(map[string]any{"aud": []string{"a", "b"}}), errWrongAudience},
		{"no sub", signed(map[string]any{"sub": nil}), errMissingClaim},
		{"empty sub", signed(map[string]any{"sub": ""}), errMissingClaim},
		{"no iat", signed(map[string]any{"iat": nil}), errMissingClaim},
		{"no exp", signed(map[string]any{"exp": nil}), errMissingClaim},
		{"no jti", signed(map[string]any{"jti": nil}), errMissingClaim},
		{"iat a string", signed(map[string]any{"iat": "1700000000"}), errMalformedJWT},
		{"exp negative", signed(map[string]any{"exp": -1}), errMalformedJWT},
		{"aud a number", signed(map[string]any{"aud": 7}), errMalformedJWT},
		{"bad signature", tamperSignature(signed(nil)), errBadSignature},
		{"signature not base64url", signed(nil) + "!", errBadSignature},
		{"unknown kid", forge(t, otherKey(t), nil, te.claims(nil)), errUnknownKID},
		{"no kid", forge(t, te.key, map[string]any{"alg": "ES256"}, te.claims(nil)), errNoKID},
		{"alg none", unsigned(t, map[string]any{"alg": "none", "kid": te.key.kid}, te.claims(nil)), errAlgNotAllowed},
		{"alg HS256", forge(t, te.key, map[string]any{"alg": "HS256", "kid": te.key.kid}, te.claims(nil)), errAlgNotAllowed},
		{"alg RS256 on an EC key", forge(t, te.key, map[string]any{"alg": "RS256", "kid": te.key.kid}, te.claims(nil)), errBadSignature},
		{"crit header", forge(t, te.key, map[string]any{"alg": "ES256", "kid": te.key.kid, "crit": []string{"b64"}}, te.claims(nil)), errMalformedJWT},
		{"two segments", "eyJhbGciOiJFUzI1NiJ9.e30", errMalformedJWT},
		{"header not JSON", "bm90IGpzb24.e30.AA", errMalformedJWT},
		{"padded header", "eyJhbGciOiJFUzI1NiJ9=.e30.AA", errMalformedJWT},
		{"over 16 KiB", signed(map[string]any{"pad": strings.Repeat("x", maxAssertionBytes)}), errAssertionTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := te.verifyAssertion(c.jwt, te.clock.Now())
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Errorf("verifyAssertion: %v, want %v", err, c.want)
			}
		})
	}
}

// TestExchangeReasons checks the reasons behind the identity 401s and that
// a jti is spent only by a successful exchange.
func TestExchangeReasons(t *testing.T) {
	te := startEmulator(t, Options{})
	request := func(jwt string) tokenRequest {
		b := te.tokenBody(jwt)
		return tokenRequest{
			GrantType: b["grant_type"], Assertion: jwt, FederationRuleID: b["federation_rule_id"],
			OrganizationID: b["organization_id"], ServiceAccountID: b["service_account_id"],
		}
	}
	jwt := forge(t, te.key, nil, te.claims(nil))

	wrong := request(jwt)
	wrong.FederationRuleID = "fdrl_other"
	if _, err := te.Emulator.exchange(wrong); !errors.Is(err, errWrongRule) {
		t.Errorf("wrong rule: %v", err)
	}
	wrong = request(jwt)
	wrong.OrganizationID = randomUUID()
	if _, err := te.Emulator.exchange(wrong); !errors.Is(err, errWrongOrg) {
		t.Errorf("wrong organization: %v", err)
	}
	wrong = request(jwt)
	wrong.ServiceAccountID = "svac_other"
	if _, err := te.Emulator.exchange(wrong); !errors.Is(err, errWrongSvcAccount) {
		t.Errorf("wrong service account: %v", err)
	}
	upper := request(jwt)
	upper.OrganizationID = strings.ToUpper(upper.OrganizationID)
	if _, err := te.Emulator.exchange(upper); err != nil {
		t.Fatalf("the refused attempts spent the jti, or the UUID compare is case-sensitive: %v", err)
	}
	if _, err := te.Emulator.exchange(request(jwt)); !errors.Is(err, errReplayedJTI) {
		t.Errorf("replay: %v, want errReplayedJTI", err)
	}
	// Once the JWT is past its exp, its jti is forgotten; replay then fails
	// as expired, not as a replay.
	te.clock.Advance(5*time.Minute + clockLeeway)
	if _, err := te.Emulator.exchange(request(jwt)); !errors.Is(err, errExpired) {
		t.Errorf("replay after expiry: %v, want errExpired", err)
	}
	if _, err := te.Emulator.exchange(request(forge(t, te.key, nil, te.claims(nil)))); err != nil {
		t.Fatalf("fresh JWT: %v", err)
	}
	te.mu.Lock()
	remembered := len(te.seenJTI)
	te.mu.Unlock()
	if remembered != 1 {
		t.Errorf("%d jtis remembered, want only the live one: expired ones are pruned", remembered)
	}
}
