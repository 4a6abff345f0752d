// Package echo is an HTTP upstream for the local stack and the end-to-end
// tests: it answers every request with a JSON description of what it received
// — method, path, host and every request header — so that a developer can
// see what an upstream behind Envoy and extauthz would see. Credential
// headers (authorization, proxy-authorization, x-api-key) are shown only as
// scheme, kind prefix and fingerprint, never in full.
package echo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"extauthz/internal/secret"
)

// Reply is the JSON body the handler answers with.
type Reply struct {
	// Method is the request method.
	Method string `json:"method"`
	// Path is the request target: path and query, as received.
	Path string `json:"path"`
	// Host is the Host header (HTTP/1) or :authority (HTTP/2).
	Host string `json:"host"`
	// Headers maps each lower-cased header name to all its values in the
	// order received; credential values are in their display form
	// (secret.DisplayHeader).
	Headers map[string][]string `json:"headers"`
}

// Describe is the Reply for r.
func Describe(r *http.Request) Reply {
	headers := make(map[string][]string, len(r.Header))
	for name, values := range r.Header {
		key := strings.ToLower(name)
		for _, v := range values {
			headers[key] = append(headers[key], secret.DisplayHeader(key, v))
		}
	}
	return Reply{Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Headers: headers}
}

// Handler answers every request, whatever its method or path, with 200 and
// its Reply as indented JSON. It does not read the request body.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false) // keep <, > and & readable in a terminal
		enc.SetIndent("", "  ")
		if err := enc.Encode(Describe(r)); err != nil {
			// A Reply is strings only; this cannot fail.
			http.Error(w, "echo: encode reply: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body.Bytes())
	})
}
