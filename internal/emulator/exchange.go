package emulator

import (
	"crypto/sha256"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"extauthz/internal/secret"
)

const (
	tokenPath = "/v1/oauth/token"
	// maxBodyBytes caps a token request body.
	maxBodyBytes = 64 << 10
	// accessTokenPrefix marks Anthropic OAuth access tokens.
	accessTokenPrefix = "sk-ant-oat01-"
)

// requiredBetas must all appear in anthropic-beta: the first unlocks the
// OAuth endpoints, the second routes the request to the federation service.
var requiredBetas = []string{"oauth-2025-04-20", "oidc-federation-2026-04-01"}

// tokenResponse is the RFC 6749 §5.1 success body.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// handleToken is Anthropic's WIF exchange. The order of the checks: the
// body is read first (so that a client that gives up on a hung request is
// noticed), then injected faults, then headers, size, body shape (400), then
// identity and assertion (an opaque 401).
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if !e.waitWhileHung(r.Context()) {
		if r.Context().Err() != nil {
			e.log.Info("hung token request abandoned by the client", "request_id", w.Header().Get("request-id"))
			return // nobody is listening; nothing is consumed
		}
		e.refuse(w, http.StatusServiceUnavailable, "emulator is closing", errors.New("closed while hanging"))
		return
	}
	if f := e.currentFault(); f.status != 0 {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", f.retryAfterSeconds())
		}
		e.refuse(w, f.status, "fault injected by the local emulator", errors.New("injected fault"))
		return
	}
	if err := checkTokenHeaders(r.Header); err != nil {
		e.refuse(w, http.StatusBadRequest, err.Error(), err)
		return
	}
	switch {
	case readErr != nil:
		e.refuse(w, http.StatusBadRequest, "could not read the request body", readErr)
		return
	case len(body) > maxBodyBytes:
		e.refuse(w, http.StatusRequestEntityTooLarge, "request body exceeds 64 KiB", errors.New("body too large"))
		return
	}
	req, err := parseTokenRequest(body)
	if err != nil {
		e.refuse(w, http.StatusBadRequest, err.Error(), err)
		return
	}
	token, err := e.exchange(req)
	if err != nil {
		// Every identity or assertion problem looks the same from outside,
		// as on the real endpoint; the reason is only in the log.
		e.refuse(w, http.StatusUnauthorized, "Authentication failed", err, "assertion", secret.New(req.Assertion))
		return
	}
	expiresIn := e.expiresIn()
	e.log.Info("exchanged assertion for an access token",
		"request_id", w.Header().Get("request-id"),
		"assertion", secret.New(req.Assertion),
		"access_token", token,
		"expires_in", expiresIn)
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: token.Reveal(),
		TokenType:   "Bearer",
		ExpiresIn:   expiresIn,
		Scope:       "user:inference",
	})
}

// refuse counts and logs a refused token request, then answers it with an
// Anthropic-shaped error. reason goes to the log only, scrubbed.
func (e *Emulator) refuse(w http.ResponseWriter, status int, message string, reason error, attrs ...any) {
	e.mu.Lock()
	e.stats.Rejected++
	e.mu.Unlock()
	attrs = append([]any{
		"request_id", w.Header().Get("request-id"),
		"status", status,
		"reason", secret.Scrub(reason.Error()),
	}, attrs...)
	e.log.Info("token request refused", attrs...)
	writeAPIError(w, status, message)
}

// checkTokenHeaders requires a JSON content type and both beta flags.
func checkTokenHeaders(h http.Header) error {
	mediaType, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return badRequest("", "Content-Type must be application/json")
	}
	betas := make(map[string]bool)
	for _, line := range h.Values("anthropic-beta") {
		for b := range strings.SplitSeq(line, ",") {
			betas[strings.TrimSpace(b)] = true
		}
	}
	for _, want := range requiredBetas {
		if !betas[want] {
			return badRequest("", "anthropic-beta must include %s", want)
		}
	}
	return nil
}

// exchange checks that req names this emulator's rule, organization and
// service account and carries a valid, unused assertion, then mints an
// access token. The jti is consumed only when everything else has passed.
func (e *Emulator) exchange(req tokenRequest) (secret.Value, error) {
	switch {
	case req.FederationRuleID != e.ruleID:
		return secret.Value{}, errWrongRule
	case !strings.EqualFold(req.OrganizationID, e.orgID):
		return secret.Value{}, errWrongOrg
	case !e.knowsServiceAccount(req.ServiceAccountID):
		return secret.Value{}, errWrongSvcAccount
	}
	now := e.opts.now()
	claims, err := e.verifyAssertion(req.Assertion, now)
	if err != nil {
		return secret.Value{}, err
	}
	token := accessTokenPrefix + randomToken()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pruneLocked(now)
	if _, seen := e.seenJTI[claims.ID]; seen {
		return secret.Value{}, errReplayedJTI
	}
	// Past this bound the JWT fails the exp check, so its jti can be forgotten.
	e.seenJTI[claims.ID] = claims.Expiry.Add(clockLeeway)
	e.tokens[sha256.Sum256([]byte(token))] = mintedToken{
		expiry:         now.Add(time.Duration(e.expiresIn()) * time.Second),
		serviceAccount: req.ServiceAccountID,
	}
	e.stats.Exchanges++
	return secret.New(token), nil
}

// knowsServiceAccount reports whether id is the single credential's service
// account or one of ServiceAccounts.
func (e *Emulator) knowsServiceAccount(id string) bool {
	if id == e.svacID {
		return true
	}
	for _, known := range e.accounts {
		if id == known {
			return true
		}
	}
	return false
}

// expiresIn is TokenLifetime in whole seconds.
func (e *Emulator) expiresIn() int64 { return int64(e.opts.TokenLifetime / time.Second) }

// pruneLocked forgets expired access tokens and jtis that can no longer be
// replayed. e.mu must be held.
func (e *Emulator) pruneLocked(now time.Time) {
	for jti, bound := range e.seenJTI {
		if !now.Before(bound) {
			delete(e.seenJTI, jti)
		}
	}
	for sum, t := range e.tokens {
		if !now.Before(t.expiry) {
			delete(e.tokens, sum)
		}
	}
}
