package emulator

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"extauthz/internal/secret"
)

// Paths of the GitHub Actions side.
const (
	mintPath      = "/_apis/oidc/token"
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/.well-known/jwks"
)

// The workflow the minted JWTs pretend to come from.
const (
	devRepositoryOwner = "extauthz"
	devRepository      = devRepositoryOwner + "/dev"
	devRef             = "refs/heads/main"
	devSubject         = "repo:" + devRepository + ":ref:" + devRef
)

// IssueJWT mints an identity JWT exactly as the mint endpoint would, for
// subject (the default GitHub-shaped subject when empty) and the audience the
// token endpoint requires. It is for oidc-file mode: tests write it to a file.
func (e *Emulator) IssueJWT(subject string) (secret.Value, error) {
	if subject == "" {
		subject = devSubject
	}
	return e.issue(subject, e.opts.Audience)
}

// issue signs a fresh JWT with a new jti, valid from now for JWTLifetime.
func (e *Emulator) issue(subject, aud string) (secret.Value, error) {
	now := e.opts.now()
	claims := identityClaims{
		Issuer:          e.url,
		Subject:         subject,
		Audience:        audience{aud},
		Repository:      devRepository,
		RepositoryOwner: devRepositoryOwner,
		Ref:             devRef,
		ID:              randomUUID(),
		IssuedAt:        now.Unix(),
		NotBefore:       now.Unix(),
		Expiry:          now.Add(e.opts.JWTLifetime).Unix(),
	}
	jwt, err := e.key.mint(claims)
	if err != nil {
		return secret.Value{}, err
	}
	v := secret.New(jwt)
	e.log.Debug("minted identity JWT", "jwt", v, "sub", subject, "aud", aud, "exp", claims.Expiry)
	return v, nil
}

// handleMint is GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: a bearer-protected GET
// whose audience query parameter becomes the JWT's aud, answered with
// {"value": "<jwt>"}.
func (e *Emulator) handleMint(w http.ResponseWriter, r *http.Request) {
	if !e.validRequestToken(r.Header.Get("Authorization")) {
		e.log.Info("mint request refused: missing or wrong bearer", "request_id", w.Header().Get("request-id"))
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		// GitHub defaults to the repository owner's URL; here the issuer's.
		aud = e.url
	}
	jwt, err := e.issue(devSubject, aud)
	if err != nil {
		e.log.Error("mint failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "mint failed"})
		return
	}
	e.mu.Lock()
	e.stats.Mints++
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"value": jwt.Reveal()})
}

// validRequestToken compares an Authorization header with the request token
// in constant time.
func (e *Emulator) validRequestToken(authorization string) bool {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(e.requestToken.Reveal())) == 1
}

// handleDiscovery serves the OIDC discovery document of the issuer.
func (e *Emulator) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                e.url,
		"jwks_uri":                              e.url + jwksPath,
		"subject_types_supported":               []string{"public"},
		"response_types_supported":              []string{"id_token"},
		"id_token_signing_alg_values_supported": []string{es256},
		"scopes_supported":                      []string{"openid"},
		"claims_supported": []string{
			"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_owner",
		},
	})
}

// handleJWKS serves the issuer's public keys.
func (e *Emulator) handleJWKS(w http.ResponseWriter, r *http.Request) {
	keys := make([]jwk, 0, len(e.jwks))
	for _, k := range e.jwks {
		keys = append(keys, k.jwk)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}
