package tokens

import (
	"context"

	"extauthz/internal/secret"
)

// IdentitySource yields the OIDC JWT to present as the assertion. It is
// called once per exchange attempt and must return a fresh JWT each time
// (JWTs are single-use at the token endpoint), never a cached one.
type IdentitySource interface {
	IdentityToken(ctx context.Context) (secret.Value, error)
}

// spentTracker is an IdentitySource that wants to know which JWT reached the
// token endpoint, so that it can refuse to present a single-use JWT twice.
// The refresher calls Spent after every exchange the endpoint answered.
type spentTracker interface {
	Spent(jwt secret.Value)
}

// Exchanger trades an assertion for an access token. It performs exactly one
// exchange per call and keeps no state between calls.
type Exchanger interface {
	Exchange(ctx context.Context, assertion secret.Value) (Grant, error)
}
