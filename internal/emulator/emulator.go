package emulator

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"extauthz/internal/secret"
)

// ErrNotLoopback is returned by Start when Options.Addr is not a loopback
// address and Options.AllowNonLoopback is false.
var ErrNotLoopback = errors.New("emulator: listen address is not loopback")

// Stats counts what the emulator has done since Start.
type Stats struct {
	// Mints counts identity JWTs served by the mint endpoint (not IssueJWT).
	Mints int
	// Exchanges counts access tokens minted by the token endpoint.
	Exchanges int
	// Rejected counts token-endpoint requests answered with an error,
	// injected faults included.
	Rejected int
}

// Emulator is a running local emulator. Its methods are safe for concurrent
// use.
type Emulator struct {
	opts         Options
	log          *slog.Logger
	url          string
	key          *signingKey
	jwks         map[string]*signingKey // by kid; what /.well-known/jwks serves
	requestToken secret.Value
	ruleID       string
	orgID        string
	svacID       string            // the single credential's
	accounts     map[string]string // credential name → service account, more of them

	srv       *http.Server
	served    chan struct{} // closed when Serve returns
	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
	stopWatch func() bool // stops the ctx watcher

	mu       sync.Mutex
	stats    Stats
	seenJTI  map[string]time.Time     // jti → when it could no longer pass the exp check
	tokens   map[[32]byte]mintedToken // SHA-256 of access token → what it was minted for
	fault    fault
	hangGate chan struct{}   // non-nil while hanging; closed by Hang(false)
	onHang   func(hangEvent) // test hook: a request's progress through a hang
}

// Start checks o — every unusable field comes back as an *OptionError,
// joined, before anything listens — then listens on o.Addr and serves until
// Close is called or ctx is done.
func Start(ctx context.Context, o Options) (*Emulator, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	key, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	// "localhost" could resolve to something surprising: check what was bound.
	if tcp, ok := ln.Addr().(*net.TCPAddr); !o.AllowNonLoopback && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return nil, fmt.Errorf("%w: bound %s", ErrNotLoopback, ln.Addr())
	}
	e := &Emulator{
		opts:         o,
		log:          o.Logger.With("component", "emulator"),
		url:          "http://" + ln.Addr().String(),
		key:          key,
		jwks:         map[string]*signingKey{key.kid: key},
		requestToken: o.RequestToken,
		ruleID:       o.FederationRuleID,
		orgID:        o.OrganizationID,
		svacID:       o.ServiceAccountID,
		accounts:     o.ServiceAccounts,
		served:       make(chan struct{}),
		closed:       make(chan struct{}),
		seenJTI:      make(map[string]time.Time),
		tokens:       make(map[[32]byte]mintedToken),
	}
	e.srv = &http.Server{
		Handler: e.routes(),
		// A client that never finishes its headers must not pin a goroutine
		// for the life of a dev session.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	e.log.Info("LOCAL EMULATOR for development and tests: stand-in GitHub Actions OIDC issuer and Anthropic token endpoint; not a real identity provider, tokens are worthless elsewhere",
		"url", e.url,
		"audience", o.Audience,
		"federation_rule_id", o.FederationRuleID,
		"organization_id", o.OrganizationID,
		"service_account_id", o.ServiceAccountID,
		"service_accounts", o.ServiceAccounts,
		"request_token", o.RequestToken,
		"token_lifetime", o.TokenLifetime,
		"jwt_lifetime", o.JWTLifetime)
	go func() {
		defer close(e.served)
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("local emulator stopped serving", "err", err)
		}
	}()
	e.stopWatch = context.AfterFunc(ctx, func() { e.Close() })
	return e, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// literal. An empty host means every interface.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL is the emulator's base URL, e.g. http://127.0.0.1:41234. It is also the
// issuer (iss) of the JWTs it mints.
func (e *Emulator) URL() string { return e.url }

// Env is the environment that points `extauthz serve` at this emulator in
// github-oidc mode. It carries the mint endpoint's request token in plain
// text: the environment is where that credential is meant to go.
func (e *Emulator) Env() map[string]string {
	return map[string]string{
		"AWF_AUTH_TYPE":                         "github-oidc",
		"AWF_AUTH_PROVIDER":                     "anthropic",
		"ACTIONS_ID_TOKEN_REQUEST_URL":          e.url + mintPath + "?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN":        e.requestToken.Reveal(),
		"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID": e.ruleID,
		"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID":    e.orgID,
		"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": e.svacID,
		"AWF_AUTH_ANTHROPIC_TOKEN_URL":          e.url + tokenPath,
		"AWF_AUTH_OIDC_AUDIENCE":                e.opts.Audience,
	}
}

// CredentialsEnv is the environment that points `extauthz serve` at this
// emulator with one credential per entry of Options.ServiceAccounts:
// EXTAUTHZ_CREDENTIALS lists them, each gets its service account under its
// prefix EXTAUTHZ_<NAME>_ (upper case, '-' → '_'), and the shared values are
// Env's, unprefixed. It is nil when there are no ServiceAccounts. Like Env it
// carries the request token in plain text.
func (e *Emulator) CredentialsEnv() map[string]string {
	if len(e.accounts) == 0 {
		return nil
	}
	env := e.Env()
	delete(env, "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID")
	names := slices.Sorted(maps.Keys(e.accounts))
	env["EXTAUTHZ_CREDENTIALS"] = strings.Join(names, ",")
	for _, name := range names {
		env[CredentialPrefix(name)+"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"] = e.accounts[name]
	}
	return env
}

// CredentialPrefix is the prefix of a credential's own variables:
// EXTAUTHZ_ and the name upper-cased with '-' turned into '_', then '_'.
func CredentialPrefix(name string) string {
	return "EXTAUTHZ_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_"
}

// Stats returns the counts since Start.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Valid reports whether token is an access token this emulator minted and
// that has not expired.
func (e *Emulator) Valid(token string) bool {
	_, ok := e.ServiceAccountOf(token)
	return ok
}

// ServiceAccountOf returns the service account an unexpired access token
// of this emulator was minted for, and whether token is one.
func (e *Emulator) ServiceAccountOf(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tokens[sum]
	if !ok || !e.opts.now().Before(t.expiry) {
		return "", false
	}
	return t.serviceAccount, true
}

// mintedToken is what the emulator remembers of an access token it minted.
type mintedToken struct {
	expiry         time.Time
	serviceAccount string
}

// Close stops serving and releases requests held by Hang. It is safe to call
// more than once.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		e.stopWatch()
		close(e.closed)
		e.closeErr = e.srv.Close()
		<-e.served
		e.log.Info("local emulator stopped", "url", e.url)
	})
	return e.closeErr
}

// routes is the emulator's HTTP surface. Every response carries a
// request-id, as Anthropic's do.
func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+mintPath, e.handleMint)
	mux.HandleFunc("GET "+discoveryPath, e.handleDiscovery)
	mux.HandleFunc("GET "+jwksPath, e.handleJWKS)
	mux.HandleFunc("POST "+tokenPath, e.handleToken)
	mux.HandleFunc(tokenPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		e.refuse(w, http.StatusMethodNotAllowed, "method not allowed; use POST", errors.New("method "+r.Method))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", "req_"+randomID())
		mux.ServeHTTP(w, r)
	})
}
