package emulator

import (
	"encoding/json"
	"net/http"
)

// apiError is Anthropic's error shape:
// {"type":"error","error":{"type":…,"message":…}}.
type apiError struct {
	Type  string       `json:"type"`
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// errorTypeFor is the error.type Anthropic's API uses for an HTTP status.
func errorTypeFor(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

// writeAPIError answers status with an Anthropic-shaped error body.
func writeAPIError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, apiError{
		Type:  "error",
		Error: apiErrorBody{Type: errorTypeFor(status), Message: message},
	})
}

// writeJSON answers status with v as JSON. Nothing here is cacheable.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value passed here is a fixed struct of strings and numbers.
		panic("emulator: marshal response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}
