package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The checks the token endpoint makes on an assertion, from Anthropic's WIF
// reference. Every failure is answered with the same opaque 401; the reason
// is only logged.
const (
	// clockLeeway is the skew allowed on exp, nbf and iat.
	clockLeeway = 30 * time.Second
	// maxJWTLifetime is the issuer's default max_jwt_lifetime_seconds: the
	// longest exp − iat accepted.
	maxJWTLifetime = time.Hour
	// maxAssertionBytes is the largest assertion accepted.
	maxAssertionBytes = 16 << 10
)

// Reasons an assertion is refused. Each check wraps one of these, so tests
// and logs can tell them apart while the client sees "Authentication failed".
var (
	errMalformedJWT     = errors.New("malformed JWT")
	errAlgNotAllowed    = errors.New("JWS algorithm not allowed")
	errNoKID            = errors.New("JWT header has no kid")
	errUnknownKID       = errors.New("kid not in the JWKS")
	errBadSignature     = errors.New("signature does not verify")
	errWrongIssuer      = errors.New("iss is not this issuer")
	errWrongAudience    = errors.New("aud does not contain the required audience")
	errMissingClaim     = errors.New("required claim missing")
	errIssuedInFuture   = errors.New("iat is in the future")
	errNotYetValid      = errors.New("nbf is in the future")
	errExpired          = errors.New("JWT has expired")
	errLifetimeTooLong  = errors.New("exp - iat exceeds the maximum JWT lifetime")
	errReplayedJTI      = errors.New("jti already used")
	errWrongRule        = errors.New("federation_rule_id is not this emulator's rule")
	errWrongOrg         = errors.New("organization_id is not this emulator's organization")
	errWrongSvcAccount  = errors.New("service_account_id is not this emulator's service account")
	errAssertionTooLong = errors.New("assertion exceeds 16 KiB")
)

// asymmetricAlgs are the JWS algorithms the real endpoint accepts; HS* and
// none are refused before any key is looked at.
var asymmetricAlgs = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
}

// verifyAssertion checks jwt's signature against the JWKS key its kid names
// and its claims at time now. It does not consume the jti: the caller does,
// once every other check has passed.
func (e *Emulator) verifyAssertion(jwt string, now time.Time) (assertionClaims, error) {
	var claims assertionClaims
	if len(jwt) > maxAssertionBytes {
		return claims, errAssertionTooLong
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims, fmt.Errorf("%w: %d segments, want 3", errMalformedJWT, len(parts))
	}
	var header struct {
		Alg  string   `json:"alg"`
		Kid  string   `json:"kid"`
		Crit []string `json:"crit"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return claims, fmt.Errorf("%w: header: %w", errMalformedJWT, err)
	}
	if !asymmetricAlgs[header.Alg] {
		return claims, fmt.Errorf("%w: %q", errAlgNotAllowed, header.Alg)
	}
	if header.Crit != nil {
		return claims, fmt.Errorf("%w: crit extensions are not understood", errMalformedJWT)
	}
	if header.Kid == "" {
		return claims, errNoKID
	}
	key, ok := e.jwks[header.Kid]
	if !ok {
		return claims, errUnknownKID
	}
	if header.Alg != key.jwk.Alg {
		return claims, fmt.Errorf("%w: alg %q does not match the key's %q", errBadSignature, header.Alg, key.jwk.Alg)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || !key.verify(parts[0]+"."+parts[1], sig) {
		return claims, errBadSignature
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return claims, fmt.Errorf("%w: claims: %w", errMalformedJWT, err)
	}
	return claims, e.checkClaims(claims, now)
}

// checkClaims applies the claim rules to a verified JWT.
func (e *Emulator) checkClaims(c assertionClaims, now time.Time) error {
	switch {
	case c.Issuer != e.url:
		return fmt.Errorf("%w: %q", errWrongIssuer, c.Issuer)
	case !c.Audience.contains(e.opts.Audience):
		return fmt.Errorf("%w: %q not in %q", errWrongAudience, e.opts.Audience, []string(c.Audience))
	case c.Subject == "":
		return fmt.Errorf("%w: sub", errMissingClaim)
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat", errMissingClaim)
	case c.Expiry == nil:
		return fmt.Errorf("%w: exp", errMissingClaim)
	case c.ID == "":
		return fmt.Errorf("%w: jti", errMissingClaim)
	case c.IssuedAt.After(now.Add(clockLeeway)):
		return errIssuedInFuture
	case c.NotBefore != nil && c.NotBefore.After(now.Add(clockLeeway)):
		return errNotYetValid
	case !now.Before(c.Expiry.Add(clockLeeway)):
		return errExpired
	case c.Expiry.Sub(c.IssuedAt.Time) > maxJWTLifetime:
		return errLifetimeTooLong
	}
	return nil
}

// decodeSegment decodes one unpadded base64url JWS segment as a JSON object.
func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return fmt.Errorf("not base64url: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	return nil
}
