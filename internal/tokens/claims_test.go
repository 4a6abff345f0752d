package tokens

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"extauthz/internal/secret"
)

func TestReadClaims(t *testing.T) {
	for _, c := range []struct {
		name   string
		claims map[string]any
		want   Claims
	}{
		{"github", map[string]any{
			"iss": "https://token.actions.githubusercontent.com", "sub": "repo:o/r:ref:refs/heads/main",
			"aud": "https://api.anthropic.com", "jti": "j1", "iat": 1700000000, "nbf": 1699999990, "exp": 1700000300,
		}, Claims{
			Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:o/r:ref:refs/heads/main", ID: "j1",
			Audience: []string{"https://api.anthropic.com"},
			IssuedAt: time.Unix(1700000000, 0).UTC(), NotBefore: time.Unix(1699999990, 0).UTC(), Expiry: time.Unix(1700000300, 0).UTC(),
		}},
		{"audience array, fractional exp", map[string]any{"aud": []string{"a", "b"}, "exp": 1700000300.5},
			Claims{Audience: []string{"a", "b"}, Expiry: time.Unix(1700000300, 5e8).UTC()}},
		{"nothing", map[string]any{}, Claims{}},
		{"null aud", map[string]any{"aud": nil, "sub": "s"}, Claims{Subject: "s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadClaims(secret.New(testJWT(c.claims)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("ReadClaims = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestReadClaimsPadded(t *testing.T) {
	jwt := testJWT(map[string]any{"sub": "x"})
	parts := strings.Split(jwt, ".")
	padded := base64.URLEncoding.EncodeToString(mustDecode(t, parts[1]))
	if c, err := ReadClaims(secret.New(parts[0] + "." + padded + "." + parts[2])); err != nil || c.Subject != "x" {
		t.Errorf("padded payload: %+v, %v", c, err)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadClaimsMalformed(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	head := enc([]byte(`{"alg":"ES256"}`))
	for _, c := range []struct{ name, jwt string }{
		{"empty", ""},
		{"one segment", "abc"},
		{"two segments", head + "." + enc([]byte(`{}`))},
		{"four segments", head + "." + enc([]byte(`{}`)) + ".s.x"},
		{"header not base64", "!!!." + enc([]byte(`{}`)) + ".s"},
		{"header not an object", enc([]byte(`[1]`)) + "." + enc([]byte(`{}`)) + ".s"},
		{"payload not base64", head + ".***.s"},
		{"payload not JSON", head + "." + enc([]byte(`not json`)) + ".s"},
		{"payload an array", head + "." + enc([]byte(`[]`)) + ".s"},
		{"iss a number", head + "." + enc([]byte(`{"iss":5}`)) + ".s"},
		{"aud a number", head + "." + enc([]byte(`{"aud":5}`)) + ".s"},
		{"exp a string", head + "." + enc([]byte(`{"exp":"soon"}`)) + ".s"},
		{"exp negative", head + "." + enc([]byte(`{"exp":-1}`)) + ".s"},
		{"exp past year 9999", head + "." + enc([]byte(`{"exp":1e300}`)) + ".s"},
		{"too large", head + "." + enc([]byte(`{"sub":"`+strings.Repeat("a", maxJWTBytes)+`"}`)) + ".s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ReadClaims(secret.New(c.jwt)); !errors.Is(err, ErrMalformedJWT) {
				t.Errorf("error %v, want ErrMalformedJWT", err)
			}
		})
	}
}

func FuzzReadClaims(f *testing.F) {
	f.Add(numberedJWT(1))
	f.Add(testJWT(map[string]any{"aud": []string{"a", "b"}, "exp": 1.5, "iat": 0}))
	f.Add("eyJ.eyJ.")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1e20}`)) + ".x")
	lo, hi := time.Unix(0, 0), time.Unix(maxNumericDate+1, 0)
	f.Fuzz(func(t *testing.T, jwt string) {
		c, err := ReadClaims(secret.New(jwt))
		if err != nil {
			if !errors.Is(err, ErrMalformedJWT) {
				t.Fatalf("error does not wrap ErrMalformedJWT: %v", err)
			}
			if len(jwt) >= 16 && strings.Contains(err.Error(), jwt) {
				t.Fatal("error contains the JWT")
			}
			return
		}
		if strings.Count(jwt, ".") != 2 {
			t.Fatalf("accepted a JWT without three segments")
		}
		for _, ts := range []time.Time{c.IssuedAt, c.NotBefore, c.Expiry} {
			if !ts.IsZero() && (ts.Before(lo) || !ts.Before(hi)) {
				t.Fatalf("time %v outside [1970, 9999]", ts)
			}
		}
		again, err := ReadClaims(secret.New(jwt))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatal("ReadClaims is not deterministic")
		}
	})
}
