package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
)

// identityClaims are the claims of a JWT the emulator mints, a subset of
// GitHub Actions' (repository, ref and the registered claims).
type identityClaims struct {
	Issuer          string   `json:"iss"`
	Subject         string   `json:"sub"`
	Audience        audience `json:"aud"`
	Repository      string   `json:"repository"`
	RepositoryOwner string   `json:"repository_owner"`
	Ref             string   `json:"ref"`
	ID              string   `json:"jti"`
	IssuedAt        int64    `json:"iat"`
	NotBefore       int64    `json:"nbf"`
	Expiry          int64    `json:"exp"`
}

// assertionClaims are the claims the token endpoint reads from an assertion.
// Time claims are pointers so that a missing one is told from zero.
type assertionClaims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	Audience  audience     `json:"aud"`
	ID        string       `json:"jti"`
	IssuedAt  *numericDate `json:"iat"`
	NotBefore *numericDate `json:"nbf"`
	Expiry    *numericDate `json:"exp"`
}

// audience is a JWT aud: a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a audience) contains(s string) bool { return slices.Contains(a, s) }

// MarshalJSON writes a single audience as a plain string, as GitHub does.
func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(b, []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = list
	return nil
}

// latestDate bounds NumericDate values (the end of year 9999) so that
// conversion to time.Time cannot overflow.
const latestDate = 253402300799

// numericDate is a JWT NumericDate: seconds since the epoch, possibly
// fractional (RFC 7519 §2).
type numericDate struct{ time.Time }

// UnmarshalJSON accepts a JSON number between 0 and latestDate.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > latestDate {
		return errors.New("NumericDate is not a number of seconds in range")
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}
