// Package secret holds credentials — API keys, access tokens, JWTs, the GitHub
// request token — in a type that never prints its contents.
//
// A Value formats, logs and marshals as a redaction marker; the only way to get
// the plain text is Reveal, which is called where the credential leaves the
// process (an HTTP header, a CheckResponse). Logs show a Fingerprint instead: a
// short hash that lets an operator correlate one token across log lines and the
// `extauthz check` output without learning anything about it.
package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
)

// Redacted is what a Value shows wherever it is printed, logged or marshalled.
const Redacted = "[REDACTED]"

// Value is a credential. The zero Value is empty.
//
// The text sits behind a pointer: fmt cannot call String on a Value held in
// an unexported struct field (nor on any Value for verbs such as %d) and
// prints its fields by reflection instead, where a pointer shows as an
// address, never as the text it points to. Compare Values with Equal, not ==.
type Value struct {
	p *string
}

// New wraps s. It does not trim: callers that read configuration trim first.
func New(s string) Value {
	if s == "" {
		return Value{}
	}
	return Value{p: &s}
}

// Reveal returns the plain text. Call it only where the credential leaves the
// process on purpose.
func (s Value) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the value is empty.
func (s Value) IsZero() bool { return s.p == nil || *s.p == "" }

// Len is the length of the plain text in bytes (safe to log).
func (s Value) Len() int { return len(s.Reveal()) }

// Equal reports whether two values hold the same text.
func (s Value) Equal(o Value) bool { return s.Reveal() == o.Reveal() }

// Fingerprint is the first 8 hex digits of the SHA-256 of the plain text, or
// "none" for an empty value. It identifies a value without revealing it.
func (s Value) Fingerprint() string {
	if s.IsZero() {
		return "none"
	}
	sum := sha256.Sum256([]byte(*s.p))
	return hex.EncodeToString(sum[:4])
}

// String implements fmt.Stringer with the redaction marker.
func (s Value) String() string { return Redacted }

// GoString implements fmt.GoStringer so %#v redacts too.
func (s Value) GoString() string { return "secret.Value{" + Redacted + "}" }

// LogValue implements slog.LogValuer: a group with the fingerprint only.
func (s Value) LogValue() slog.Value {
	return slog.GroupValue(slog.String("fingerprint", s.Fingerprint()))
}

// MarshalText implements encoding.TextMarshaler (and so JSON) with the marker.
func (s Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// EnvDecode implements go-envconfig's Decoder: the value is trimmed and kept.
func (s *Value) EnvDecode(val string) error {
	*s = New(strings.TrimSpace(val))
	return nil
}
