package tokens

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"extauthz/internal/secret"
)

// maxJWTBytes bounds what ReadClaims will decode.
const maxJWTBytes = 64 << 10

// maxNumericDate is the last second of year 9999; later dates are malformed.
const maxNumericDate = 253402300799

// Claims are the registered claims of a JWT, read without verification and
// only for diagnostics (log iss/sub/exp at debug, never the JWT).
type Claims struct {
	Issuer, Subject, ID         string
	Audience                    []string
	IssuedAt, NotBefore, Expiry time.Time // zero when absent
}

// ReadClaims decodes the payload of a compact JWT without checking its
// signature. Errors wrap ErrMalformedJWT and never contain the token.
func ReadClaims(jwt secret.Value) (Claims, error) {
	// Reveal only to decode in memory: nothing of the token leaves this
	// function except the claims below.
	s := jwt.Reveal()
	if len(s) > maxJWTBytes {
		return Claims{}, fmt.Errorf("%w: over %d bytes", ErrMalformedJWT, maxJWTBytes)
	}
	header, rest, ok1 := strings.Cut(s, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Count(s, ".") != 2 {
		return Claims{}, fmt.Errorf("%w: not three dot-separated segments", ErrMalformedJWT)
	}
	var h map[string]json.RawMessage
	if err := decodeSegment(header, &h); err != nil || h == nil {
		return Claims{}, fmt.Errorf("%w: header is not a base64url JSON object", ErrMalformedJWT)
	}
	var p struct {
		Iss *string      `json:"iss"`
		Sub *string      `json:"sub"`
		Jti *string      `json:"jti"`
		Aud audience     `json:"aud"`
		Iat *numericDate `json:"iat"`
		Nbf *numericDate `json:"nbf"`
		Exp *numericDate `json:"exp"`
	}
	if err := decodeSegment(payload, &p); err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not a base64url JSON object of registered claims", ErrMalformedJWT)
	}
	return Claims{
		Issuer:    deref(p.Iss),
		Subject:   deref(p.Sub),
		ID:        deref(p.Jti),
		Audience:  p.Aud,
		IssuedAt:  p.Iat.time(),
		NotBefore: p.Nbf.time(),
		Expiry:    p.Exp.time(),
	}, nil
}

// decodeSegment base64url-decodes seg (padding tolerated) and unmarshals the
// JSON object in it into v.
func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	if len(data) == 0 || data[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(data, v)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// audience is the aud claim: one string or an array of strings.
type audience []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (a *audience) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		if string(data) != "null" {
			*a = audience{one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional.
type numericDate struct{ t time.Time }

// UnmarshalJSON accepts a JSON number from 0 to the end of year 9999.
func (d *numericDate) UnmarshalJSON(data []byte) error {
	var f float64
	if err := json.Unmarshal(data, &f); err != nil {
		return errors.New("not a number")
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

func (d *numericDate) time() time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.t
}
