package tokens

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinels, matched with errors.Is. Errors that carry them are wrapped with
// the detail (sizes, paths) but never with a credential.
var (
	// ErrAssertionTooLarge: the identity token exceeds the 16 KiB the token
	// endpoint accepts; it is refused locally before any request.
	ErrAssertionTooLarge = errors.New("assertion exceeds 16 KiB")
	// ErrIdentityTokenTooLarge: the identity token file or mint reply exceeds
	// its size cap.
	ErrIdentityTokenTooLarge = errors.New("identity token input too large")
	// ErrEmptyIdentityToken: the identity source produced nothing to present.
	ErrEmptyIdentityToken = errors.New("identity token is empty")
	// ErrIdentityTokenNotRotated: the token file still holds a JWT whose jti
	// the token endpoint has already seen; presenting it again would be
	// refused as a replay. Recoverable: the kubelet rewrites the file.
	ErrIdentityTokenNotRotated = errors.New("identity token file not rotated since its JWT was last presented")
	// ErrResponseTooLarge: a response body exceeds its cap (64 KiB).
	ErrResponseTooLarge = errors.New("response body too large")
	// ErrMalformedResponse: a 200 reply from the token endpoint or the mint
	// that is not a valid grant (bad JSON, no access_token, missing or
	// non-positive expires_in, a token_type other than Bearer).
	ErrMalformedResponse = errors.New("malformed response")
	// ErrInvalidEndpoint: an endpoint URL that is not an absolute http(s) URL.
	ErrInvalidEndpoint = errors.New("invalid endpoint URL")
	// ErrInsecureEndpoint: an http:// endpoint whose host is not loopback.
	ErrInsecureEndpoint = errors.New("endpoint must use https unless its host is loopback")
	// ErrMalformedJWT: ReadClaims could not read the token as a JWT.
	ErrMalformedJWT = errors.New("malformed JWT")
)

// nonRecoverable lists the sentinels that a retry with the same inputs cannot
// fix; only a changed identity token can.
var nonRecoverable = []error{ErrAssertionTooLarge, ErrIdentityTokenTooLarge}

// ExchangeError is a non-200 reply from the token endpoint. Only the fields
// below are kept from the reply, never the raw body.
type ExchangeError struct {
	StatusCode int
	Type       string        // error.type (Anthropic shape) or the RFC 6749 "error" code
	Message    string        // error.message / error_description, scrubbed and truncated
	RequestID  string        // from the request-id response header
	RetryAfter time.Duration // parsed Retry-After, 0 if none
}

// Error describes the reply: status, error type, message and request id.
func (e *ExchangeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "token endpoint: HTTP %d", e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" " + text)
	}
	if e.Type != "" {
		b.WriteString(": " + e.Type)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id " + e.RequestID + ")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	return b.String()
}

// Temporary reports whether retrying the same request can help: false for
// 400/401/403 and every other status that is not 408, 429 or 5xx.
func (e *ExchangeError) Temporary() bool { return temporaryStatus(e.StatusCode) }

// IdentityError is a failure to obtain the identity token from its source.
type IdentityError struct {
	Source     string // "github-actions" or "token-file"
	StatusCode int    // HTTP status from the identity provider; 0 when the failure was not a reply
	RequestID  string // the provider's request id header, when it sent one
	Err        error  // the cause; nil for a plain non-200 reply
}

// Error names the source and the status or cause.
func (e *IdentityError) Error() string {
	var b strings.Builder
	b.WriteString("identity token from " + e.Source)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
		if text := http.StatusText(e.StatusCode); text != "" {
			b.WriteString(" " + text)
		}
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id " + e.RequestID + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *IdentityError) Unwrap() error { return e.Err }

// Temporary reports whether retrying can help: by status for a provider
// reply (401/403 are not), otherwise by the cause.
func (e *IdentityError) Temporary() bool {
	if e.StatusCode != 0 {
		return temporaryStatus(e.StatusCode)
	}
	return Recoverable(e.Err)
}

// Recoverable reports whether err may go away by itself on a retry. It is
// false for non-recoverable errors from either the identity provider or the
// token endpoint (400/401/403 and other client errors except 408 and 429) and
// for an identity token too large to exchange; true for everything else
// (network failures, timeouts, 408/429/5xx, malformed replies).
func Recoverable(err error) bool {
	if err == nil {
		return true
	}
	var xe *ExchangeError
	if errors.As(err, &xe) {
		return xe.Temporary()
	}
	var ie *IdentityError
	if errors.As(err, &ie) {
		return ie.Temporary()
	}
	for _, s := range nonRecoverable {
		if errors.Is(err, s) {
			return false
		}
	}
	return true
}

// temporaryStatus: 408, 429 and 5xx may succeed on retry; the rest will not.
func temporaryStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// retryAfterOf returns the Retry-After carried by err, or 0.
func retryAfterOf(err error) time.Duration {
	var xe *ExchangeError
	if errors.As(err, &xe) {
		return xe.RetryAfter
	}
	return 0
}

// statusOf returns the HTTP status carried by err, or 0.
func statusOf(err error) int {
	var xe *ExchangeError
	if errors.As(err, &xe) {
		return xe.StatusCode
	}
	var ie *IdentityError
	if errors.As(err, &ie) {
		return ie.StatusCode
	}
	return 0
}
