// Package echo is an HTTP upstream for the local stack and the end-to-end
// tests: it answers every request with a JSON description of what it received
// — method, path, host and every request header — so that a developer can
// see what an upstream behind Envoy and extauthz would see. Credential
// headers (authorization, proxy-authorization, x-api-key) are shown only as
// scheme, kind prefix and fingerprint, never in full; credential-looking text
// anywhere else in a header or the path is masked (secret.Scrub).
package echo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"extauthz/internal/secret"
)

// Reply is the JSON body the handler answers with.
type Reply struct {
	// Method is the request method.
	Method string `json:"method"`
	// Path is the request target: path and query, as received but scrubbed.
	Path string `json:"path"`
	// Host is the Host header (HTTP/1) or :authority (HTTP/2).
	Host string `json:"host"`
	// Headers maps each lower-cased header name to all its values in the
	// order received; credential values are in their display form
	// (secret.DisplayHeader), others are scrubbed (secret.Scrub).
	Headers map[string][]string `json:"headers"`
}

// Describe is the Reply for r.
func Describe(r *http.Request) Reply {
	headers := make(map[string][]string, len(r.Header))
	for name, values := range r.Header {
		key := strings.ToLower(name)
		for _, v := range values {
			headers[key] = append(headers[key], display(key, v))
		}
	}
	return Reply{Method: r.Method, Path: secret.Scrub(r.URL.RequestURI()), Host: r.Host, Headers: headers}
}

// display is how a header value is shown: a credential header's as its
// fingerprint, any other scrubbed of credential-looking text, so that a key a
// client put in the wrong header is not echoed in clear either.
func display(key, value string) string {
	if secret.IsCredentialHeader(key) {
		return secret.DisplayHeader(key, value)
	}
	return secret.Scrub(value)
}

// Handler answers every request, whatever its method or path, with 200 and
// its Reply as JSON laid out for a terminal: one line per field and per
// header. It does not read the request body.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(Describe(r).format())
	})
}

// format writes the reply as indented JSON with each header's values on one
// line, names sorted, and <, > and & left as they are.
func (r Reply) format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"method\": %s,\n  \"path\": %s,\n  \"host\": %s,\n  \"headers\": {",
		jsonText(r.Method), jsonText(r.Path), jsonText(r.Host))
	for i, name := range slices.Sorted(maps.Keys(r.Headers)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    %s: %s", jsonText(name), jsonText(r.Headers[name]))
	}
	if len(r.Headers) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("}\n}\n")
	return b.Bytes()
}

// jsonText is v (a string or a []string) as compact JSON without HTML
// escaping.
func jsonText(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("echo: " + err.Error()) // strings always encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
