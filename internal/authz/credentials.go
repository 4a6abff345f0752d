package authz

import (
	"time"

	"extauthz/internal/secret"
)

// Credential is the value Check injects.
type Credential struct {
	// Value is the token (WIF) or API key (static-key mode).
	Value secret.Value
	// Generation changes whenever Value does, so later work can cache
	// per-generation responses.
	Generation uint64
}

// Credentials is what Check reads: it must never block or touch the network.
type Credentials interface {
	// Credential returns the credential servable at now, or ok=false and how
	// long a client should wait before retrying (whole seconds, ≥ 1 s).
	Credential(now time.Time) (c Credential, retryAfter time.Duration, ok bool)
}

// StaticKey returns Credentials that always serve key, as generation 1.
func StaticKey(key secret.Value) Credentials {
	return &staticKey{c: Credential{Value: key, Generation: 1}}
}

type staticKey struct{ c Credential }

func (s *staticKey) Credential(time.Time) (Credential, time.Duration, bool) {
	return s.c, 0, true
}
