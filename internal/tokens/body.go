package tokens

import (
	"fmt"
	"io"
	"net/http"
)

// maxBodyBytes caps every response body read from the mint or the token
// endpoint.
const maxBodyBytes = 64 << 10

// readBody reads at most limit bytes of r; a longer body is an error wrapping
// ErrResponseTooLarge (the bytes read so far are returned with it).
func readBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, fmt.Errorf("reading response: %w", err)
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, limit)
	}
	return b, nil
}

// noRedirects returns a copy of client (or of a zero client) that does not
// follow redirects: a request that carries a credential goes only where it
// was configured to go, never on to another host or to plain http.
func noRedirects(client *http.Client) *http.Client {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}
