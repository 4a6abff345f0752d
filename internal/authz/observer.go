package authz

import "time"

// Result is the outcome of one Check, as reported to the Observer.
type Result string

const (
	// ResultOK is an allowed request (status code 0).
	ResultOK Result = "ok"
	// ResultUnavailable means no servable credential: 503.
	ResultUnavailable Result = "unavailable"
	// ResultForbidden means the host is not allowed: 403.
	ResultForbidden Result = "forbidden"
	// ResultInvalid means the request had no attributes.request.http: 400.
	ResultInvalid Result = "invalid"
)

// Observer receives one call per Check (metrics); it must be cheap and
// non-blocking.
type Observer interface {
	// CheckFinished reports one Check: credential is the index in
	// Options.Credentials of the credential the request selected, or -1 when
	// it selected none (a malformed request, an unknown or missing
	// credential name).
	CheckFinished(credential int, r Result, elapsed time.Duration)
}
