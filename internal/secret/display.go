package secret

import (
	"fmt"
	"regexp"
	"strings"
)

// credentialHeaders are the request headers that carry a credential.
var credentialHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "x-api-key": true}

// IsCredentialHeader reports whether the header name (any case) carries a
// credential: authorization, proxy-authorization or x-api-key.
func IsCredentialHeader(name string) bool { return credentialHeaders[strings.ToLower(name)] }

// credentialKind keeps the readable kind of an Anthropic credential
// (sk-ant-oat01-, sk-ant-api03-).
var credentialKind = regexp.MustCompile(`^sk-ant-[a-z]{1,8}[0-9]{1,4}-`)

// authScheme is what may be shown before the first space of an
// Authorization value: a scheme name such as Bearer or Basic. Anything else
// there may be the credential itself, so it is fingerprinted with the rest.
var authScheme = regexp.MustCompile(`^[A-Za-z]{1,16}$`)

// DisplayHeader is how a header value may be shown to a person: the value of
// a credential header (IsCredentialHeader) becomes its scheme, the kind
// prefix of an Anthropic credential, "…" and a fingerprint — e.g.
// "Bearer sk-ant-oat01-… (fingerprint 1a2b3c4d)"; any other value is returned
// as it is.
func DisplayHeader(name, value string) string {
	if !IsCredentialHeader(name) {
		return value
	}
	scheme := ""
	if s, rest, ok := strings.Cut(value, " "); ok && !strings.EqualFold(name, "x-api-key") && authScheme.MatchString(s) {
		scheme, value = s+" ", rest
	}
	return fmt.Sprintf("%s%s… (fingerprint %s)", scheme, credentialKind.FindString(value), New(value).Fingerprint())
}
