package tokens

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"extauthz/internal/secret"
)

// mintServer is a fake GitHub Actions OIDC mint that asserts each request
// and answers with replies[n] (the last one repeats).
type mintServer struct {
	t       *testing.T
	replies []func(w http.ResponseWriter, r *http.Request)
	calls   atomic.Int32
	server  *httptest.Server
}

func newMint(t *testing.T, replies ...func(w http.ResponseWriter, r *http.Request)) (*mintServer, *GitHubActions) {
	t.Helper()
	m := &mintServer{t: t, replies: replies}
	m.server = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.server.Close)
	g, err := NewGitHubActions(m.server.URL+"/idtoken?api-version=2.0", secret.New(testRequestToken), "https://api.anthropic.com", m.server.Client())
	if err != nil {
		t.Fatal(err)
	}
	g.retryWait = func(int) time.Duration { return time.Millisecond }
	return m, g
}

func (m *mintServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(m.calls.Add(1)) - 1
	t := m.t
	if r.Method != http.MethodGet || r.URL.Path != "/idtoken" {
		t.Errorf("request %s %s, want GET /idtoken", r.Method, r.URL.Path)
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2.0" || q.Get("audience") != "https://api.anthropic.com" || len(q) != 2 {
		t.Errorf("query %q: want the existing api-version=2.0 plus the audience", r.URL.RawQuery)
	}
	if r.Header.Get("Authorization") != "Bearer "+testRequestToken {
		t.Error("Authorization is not Bearer <request token>")
	}
	if r.Header.Get("Accept") != "application/json" {
		t.Errorf("Accept = %q", r.Header.Get("Accept"))
	}
	m.replies[min(n, len(m.replies)-1)](w, r)
}

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

var mintedJWT = numberedJWT(42)

func TestGitHubActionsMint(t *testing.T) {
	m, g := newMint(t, replyJSON(200, `{"count":1,"value":"`+mintedJWT+`"}`))
	jwt, err := g.IdentityToken(context.Background())
	if err != nil {
		t.Fatalf("IdentityToken: %v", err)
	}
	if jwt.Reveal() != mintedJWT {
		t.Error("minted JWT not returned")
	}
	if _, err := g.IdentityToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.calls.Load() != 2 {
		t.Errorf("%d mint requests for 2 calls, want a fresh JWT each time", m.calls.Load())
	}
	if !strings.Contains(g.url, "audience=https%3A%2F%2Fapi.anthropic.com") {
		t.Errorf("audience not query-encoded into %q", g.url)
	}
}

func TestGitHubActionsRetriesGatewayErrors(t *testing.T) {
	m, g := newMint(t, status(502), status(503), status(504), replyJSON(200, `{"value":"`+mintedJWT+`"}`))
	jwt, err := g.IdentityToken(context.Background())
	if err != nil || jwt.Reveal() != mintedJWT {
		t.Fatalf("after 502/503/504: %v", err)
	}
	if m.calls.Load() != 4 {
		t.Errorf("%d requests, want 4", m.calls.Load())
	}
}

func TestGitHubActionsGivesUpAfterAFewRetries(t *testing.T) {
	m, g := newMint(t, status(503))
	_, err := g.IdentityToken(context.Background())
	var ie *IdentityError
	if !errors.As(err, &ie) || ie.StatusCode != 503 || !Recoverable(err) {
		t.Fatalf("error %v, want a recoverable 503 IdentityError", err)
	}
	if m.calls.Load() != 1+mintRetries {
		t.Errorf("%d requests, want %d", m.calls.Load(), 1+mintRetries)
	}
}

func TestGitHubActionsNonRecoverable(t *testing.T) {
	for _, code := range []int{401, 403} {
		m, g := newMint(t, status(code))
		_, err := g.IdentityToken(context.Background())
		var ie *IdentityError
		if !errors.As(err, &ie) || ie.StatusCode != code || ie.Source != "github-actions" {
			t.Fatalf("%d: error %v, want an IdentityError", code, err)
		}
		if Recoverable(err) || ie.Temporary() {
			t.Errorf("%d from the mint is recoverable", code)
		}
		if m.calls.Load() != 1 {
			t.Errorf("%d: %d requests, want no retry", code, m.calls.Load())
		}
		assertNoSecrets(t, "error text", err.Error())
	}
}

func TestGitHubActionsBadReplies(t *testing.T) {
	for _, c := range []struct {
		name    string
		body    string
		want    error
		recover bool
	}{
		{"empty value", `{"value":""}`, ErrEmptyIdentityToken, true},
		{"no value", `{"count":0}`, ErrEmptyIdentityToken, true},
		{"not JSON", `value=x`, ErrMalformedResponse, true},
		{"value not a string", `{"value":5}`, ErrMalformedResponse, true},
		{"oversized", `{"value":"` + strings.Repeat("a", maxBodyBytes) + `"}`, ErrIdentityTokenTooLarge, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, g := newMint(t, replyJSON(200, c.body))
			_, err := g.IdentityToken(context.Background())
			var ie *IdentityError
			if !errors.Is(err, c.want) || !errors.As(err, &ie) {
				t.Fatalf("error %v, want an IdentityError wrapping %v", err, c.want)
			}
			if Recoverable(err) != c.recover {
				t.Errorf("Recoverable = %v, want %v", Recoverable(err), c.recover)
			}
		})
	}
}

func TestGitHubActionsHang(t *testing.T) {
	_, g := newMint(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := g.IdentityToken(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
}

func TestGitHubActionsDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		io.WriteString(w, `{"value":"x"}`)
	}))
	t.Cleanup(other.Close)
	_, g := newMint(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL, http.StatusFound) })
	if _, err := g.IdentityToken(context.Background()); statusOf(err) != http.StatusFound {
		t.Errorf("error %v, want the 302 reported", err)
	}
	if elsewhere.Load() != 0 {
		t.Error("the mint request followed a redirect")
	}
}

func TestNewGitHubActionsValidates(t *testing.T) {
	tok := secret.New(testRequestToken)
	if _, err := NewGitHubActions("http://pipelines.example.com/idtoken?api-version=2.0", tok, "aud", nil); !errors.Is(err, ErrInsecureEndpoint) {
		t.Errorf("http mint URL: %v, want ErrInsecureEndpoint", err)
	}
	if _, err := NewGitHubActions("https://pipelines.example.com/idtoken?api-version=2.0", secret.Value{}, "aud", nil); err == nil {
		t.Error("empty request token accepted")
	}
	if _, err := NewGitHubActions("https://pipelines.example.com/idtoken?api-version=2.0", tok, "", nil); err == nil {
		t.Error("empty audience accepted")
	}
	g, err := NewGitHubActions("https://pipelines.example.com/idtoken?api-version=2.0&audience=old", tok, "https://api.anthropic.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(g.url, "old") || !strings.Contains(g.url, "api-version=2.0") {
		t.Errorf("audience not replaced in %q", g.url)
	}
}

func TestJitteredMintWait(t *testing.T) {
	for n := range mintRetries {
		base := mintRetryBase << n
		for range 100 {
			if d := jitteredMintWait(n); d < base/2 || d >= base*3/2 {
				t.Fatalf("wait %d = %v, want in [%v, %v)", n, d, base/2, base*3/2)
			}
		}
	}
}
