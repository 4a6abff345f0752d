package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMintRequiresTheRequestToken(t *testing.T) {
	te := startEmulator(t, Options{})
	u := te.Env()["ACTIONS_ID_TOKEN_REQUEST_URL"]
	for name, authorization := range map[string]string{
		"none":         "",
		"wrong token":  "Bearer " + randomToken(),
		"wrong scheme": "Basic " + te.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
		"bare token":   te.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			resp, body := te.do(t, req)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.StatusCode)
			}
			if strings.Contains(string(body), "eyJ") {
				t.Error("a refused mint returned a JWT")
			}
		})
	}
	if got := te.Stats().Mints; got != 0 {
		t.Errorf("Mints = %d after refused requests, want 0", got)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "bearer "+te.Env()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	if resp, _ := te.do(t, req); resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer scheme: status %d, want 200", resp.StatusCode)
	}
}

func TestMintHonoursAudience(t *testing.T) {
	te := startEmulator(t, Options{})
	for _, c := range []struct{ requested, want string }{
		{"https://api.anthropic.com", "https://api.anthropic.com"},
		{"api://some-app id&x", "api://some-app id&x"},
		{"", te.URL()}, // like GitHub's owner-URL default
	} {
		claims := jwtClaims(t, te.mint(t, c.requested))
		if aud, _ := claims["aud"].(string); aud != c.want {
			t.Errorf("audience %q: aud = %v, want %q", c.requested, claims["aud"], c.want)
		}
	}
	if got := te.Stats().Mints; got != 3 {
		t.Errorf("Mints = %d, want 3", got)
	}
}

func TestMintedJWTClaimsAndHeader(t *testing.T) {
	te := startEmulator(t, Options{JWTLifetime: 7 * time.Minute})
	jwt := te.mint(t, "https://api.anthropic.com")
	now := te.clock.Now().Unix()

	var header map[string]any
	decodeTestSegment(t, strings.Split(jwt, ".")[0], &header)
	if header["alg"] != "ES256" || header["typ"] != "JWT" || header["kid"] == "" {
		t.Errorf("header = %v, want alg ES256, typ JWT and a kid", header)
	}
	claims := jwtClaims(t, jwt)
	want := map[string]any{
		"iss":              te.URL(),
		"sub":              "repo:extauthz/dev:ref:refs/heads/main",
		"aud":              "https://api.anthropic.com",
		"repository":       "extauthz/dev",
		"repository_owner": "extauthz",
		"ref":              "refs/heads/main",
		"iat":              float64(now),
		"nbf":              float64(now),
		"exp":              float64(now + 7*60),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	jti, _ := claims["jti"].(string)
	if !isUUID(jti) {
		t.Errorf("jti %q is not a UUID", jti)
	}
	if other := jwtClaims(t, te.mint(t, "")); other["jti"] == jti {
		t.Error("two mints share a jti")
	}
}

// TestMintedJWTVerifiesAgainstPublishedJWKS follows discovery to the JWKS as
// a relying party would and checks the signature with that key alone.
func TestMintedJWTVerifiesAgainstPublishedJWKS(t *testing.T) {
	te := startEmulator(t, Options{})
	var discovery struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, te, te.URL()+"/.well-known/openid-configuration", &discovery)
	if discovery.Issuer != te.URL() {
		t.Errorf("discovery issuer %q, want %q", discovery.Issuer, te.URL())
	}
	var set struct{ Keys []jwk }
	getJSON(t, te, discovery.JWKSURI, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.Use != "sig" || k.Kid == "" {
		t.Errorf("JWK = %+v", k)
	}
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`))
	if k.Kid != base64.RawURLEncoding.EncodeToString(thumb[:]) {
		t.Error("kid is not the RFC 7638 thumbprint")
	}
	pub := publicKeyFromJWK(t, k)

	jwt := te.mint(t, "")
	parts := strings.Split(jwt, ".")
	var header struct{ Kid string }
	decodeTestSegment(t, parts[0], &header)
	if header.Kid != k.Kid {
		t.Fatalf("JWT kid %q is not the JWKS key %q", header.Kid, k.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature is not 64 raw bytes (len %d, %v)", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Error("signature does not verify against the published key")
	}
}

func TestIssueJWT(t *testing.T) {
	te := startEmulator(t, Options{Audience: "api://custom"})
	v, err := te.IssueJWT("system:serviceaccount:ns:agent")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwtClaims(t, v.Reveal())
	if claims["sub"] != "system:serviceaccount:ns:agent" || claims["aud"] != "api://custom" || claims["iss"] != te.URL() {
		t.Errorf("claims sub=%v aud=%v iss=%v", claims["sub"], claims["aud"], claims["iss"])
	}
	if _, err := te.verifyAssertion(v.Reveal(), te.clock.Now()); err != nil {
		t.Errorf("IssueJWT's JWT does not pass the token endpoint's checks: %v", err)
	}
	def, err := te.IssueJWT("")
	if err != nil {
		t.Fatal(err)
	}
	if got := jwtClaims(t, def.Reveal())["sub"]; got != devSubject {
		t.Errorf("default subject %v, want %s", got, devSubject)
	}
	if got := te.Stats().Mints; got != 0 {
		t.Errorf("IssueJWT counted as %d mints; Mints counts the endpoint only", got)
	}
}

func getJSON(t *testing.T, te *testEmulator, u string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	resp, body := te.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", u, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func publicKeyFromJWK(t *testing.T, k jwk) *ecdsa.PublicKey {
	t.Helper()
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		t.Fatalf("JWK coordinates are not 32-byte base64url")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("JWK is not a P-256 point: %v", err)
	}
	return pub
}

// jwtClaims decodes a JWT's claims without checking anything.
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT has %d segments", len(parts))
	}
	var claims map[string]any
	decodeTestSegment(t, parts[1], &claims)
	return claims
}

func decodeTestSegment(t *testing.T, seg string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment is not base64url: %v", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("segment is not JSON: %v", err)
	}
}
