package tokens

import (
	"log/slog"
	"time"

	"extauthz/internal/secret"
)

// Token is one access token with its lifetime. Immutable once published.
type Token struct {
	Value      secret.Value // sk-ant-oat01-…
	Sent       time.Time    // when the exchange request was sent (T0); L is measured from here
	Expiry     time.Time    // Sent + expires_in
	Edge       time.Time    // Expiry − S with S = min(30 s, L/10); served only while now < Edge
	Generation uint64       // 1 for a Refresher's first token, +1 for each new one
}

// newToken builds the Token for grant, whose request was sent at sent.
func newToken(grant Grant, sent time.Time, generation uint64) *Token {
	expiry := sent.Add(grant.ExpiresIn)
	return &Token{
		Value:      grant.AccessToken,
		Sent:       sent,
		Expiry:     expiry,
		Edge:       expiry.Add(-safetyMargin(grant.ExpiresIn)),
		Generation: generation,
	}
}

// Lifetime is L, the expires_in the token was granted with.
func (t *Token) Lifetime() time.Duration { return t.Expiry.Sub(t.Sent) }

// Servable reports whether t may be handed out at now: t != nil && now < Edge.
func (t *Token) Servable(now time.Time) bool { return t != nil && now.Before(t.Edge) }

// LogValue implements slog.LogValuer with the fingerprint, expiry and
// generation; never the value.
func (t *Token) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("none")
	}
	return slog.GroupValue(
		slog.String("fingerprint", t.Value.Fingerprint()),
		slog.Time("expiry", t.Expiry),
		slog.Uint64("generation", t.Generation),
	)
}

// Grant is one exchange result.
type Grant struct {
	AccessToken secret.Value  // the access token; never empty in a Grant an Exchanger returns
	ExpiresIn   time.Duration // L, positive
	Scope       string        // the scope the federation rule granted, for logs; may be empty
}
