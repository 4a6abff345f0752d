package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"extauthz/internal/secret"
)

const (
	sourceGitHubActions = "github-actions"
	// mintTimeout bounds one IdentityToken call, retries included.
	mintTimeout = 10 * time.Second
	// mintRetries is how many times a 502/503/504 from the mint is retried
	// within one call, after mintRetryBase·2^n ±50 %: 200, 400, 800 ms.
	mintRetries   = 3
	mintRetryBase = 200 * time.Millisecond
)

// GitHubActions mints a fresh GitHub Actions OIDC token for every call from
// the job's ACTIONS_ID_TOKEN_REQUEST_URL, for one audience.
type GitHubActions struct {
	url    string // the request URL with audience= added to its query
	token  secret.Value
	client *http.Client
	// retryWait is the pause before retry n (0-based); tests shorten it.
	retryWait func(n int) time.Duration
}

var _ IdentitySource = (*GitHubActions)(nil)

// NewGitHubActions checks the request URL (CheckEndpointURL), the request
// token and the audience, and adds audience=<audience> to the URL's existing
// query (parsed and re-encoded; the URL already carries api-version). Requests
// go through client (http.DefaultTransport when nil) without following
// redirects.
func NewGitHubActions(requestURL string, requestToken secret.Value, audience string, client *http.Client) (*GitHubActions, error) {
	var problems []error
	u, err := CheckEndpointURL(requestURL)
	if err != nil {
		problems = append(problems, fmt.Errorf("GitHub Actions token request URL: %w", err))
	}
	if requestToken.IsZero() {
		problems = append(problems, errors.New("GitHub Actions token request token is required"))
	}
	if audience == "" {
		problems = append(problems, errors.New("OIDC audience is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()
	return &GitHubActions{
		url:       u.String(),
		token:     requestToken,
		client:    noRedirects(client),
		retryWait: jitteredMintWait,
	}, nil
}

// jitteredMintWait is mintRetryBase·2^n scaled by a uniform factor in [0.5, 1.5).
func jitteredMintWait(n int) time.Duration {
	return time.Duration(float64(mintRetryBase<<n) * (0.5 + rand.Float64()))
}

// IdentityToken mints one JWT. 502/503/504 are retried a few times within
// the 10 s budget; any other non-200 is an *IdentityError with its status
// (401/403 are not recoverable); an empty value wraps ErrEmptyIdentityToken.
func (g *GitHubActions) IdentityToken(ctx context.Context) (secret.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, mintTimeout)
	defer cancel()
	for n := 0; ; n++ {
		jwt, err := g.mint(ctx)
		var ie *IdentityError
		if n == mintRetries || !errors.As(err, &ie) || !retryableMintStatus(ie.StatusCode) {
			return jwt, err
		}
		t := time.NewTimer(g.retryWait(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return secret.Value{}, &IdentityError{Source: sourceGitHubActions, Err: fmt.Errorf("after HTTP %d: %w", ie.StatusCode, ctx.Err())}
		case <-t.C:
		}
	}
}

func retryableMintStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// mint performs one request to the mint.
func (g *GitHubActions) mint(ctx context.Context) (secret.Value, error) {
	fail := func(status int, requestID string, err error) (secret.Value, error) {
		return secret.Value{}, &IdentityError{Source: sourceGitHubActions, StatusCode: status, RequestID: requestID, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return fail(0, "", err)
	}
	req.Header.Set("Authorization", "Bearer "+g.token.Reveal()) // the request token leaves the process here
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", defaultUserAgent)
	resp, err := g.client.Do(req)
	if err != nil {
		return fail(0, "", err)
	}
	defer resp.Body.Close()
	requestID := cleanText(resp.Header.Get("X-GitHub-Request-Id"), maxRequestIDLen)
	if resp.StatusCode != http.StatusOK {
		return fail(resp.StatusCode, requestID, nil)
	}
	data, err := readBody(resp.Body, maxBodyBytes)
	if err != nil {
		if errors.Is(err, ErrResponseTooLarge) {
			err = fmt.Errorf("%w: %w", ErrIdentityTokenTooLarge, err)
		}
		return fail(0, requestID, err)
	}
	var reply struct {
		Value *string `json:"value"`
	}
	if json.Unmarshal(data, &reply) != nil {
		return fail(0, requestID, fmt.Errorf("%w: not a JSON object with a string value", ErrMalformedResponse))
	}
	if reply.Value == nil || *reply.Value == "" {
		return fail(0, requestID, ErrEmptyIdentityToken)
	}
	return secret.New(*reply.Value), nil
}
