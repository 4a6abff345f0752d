package tokens

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The soak's GitHub Actions mint and Anthropic token endpoint: one in-memory
// http.RoundTripper under the real GitHubActions source and the real
// AnthropicExchanger, inside the synctest bubble. Driving the real clients
// (rather than fakes of the two interfaces) puts their parsing, error
// classification, Retry-After handling and the mint's own 502/503/504
// retries under the soak too; the transport costs no sockets and honours the
// request's context as net/http's does.

const (
	soakMintHost  = "mint.soak.test"
	soakTokenHost = "api.soak.test"
	soakMintURL   = "https://" + soakMintHost + "/idtoken?api-version=2.0"
	soakTokenURL  = "https://" + soakTokenHost + "/v1/oauth/token"
	soakAudience  = "https://api.anthropic.com"

	minSoakLifetime = 10 // seconds; lifetimes are log-uniform in [10 s, 1 h]
	maxSoakLifetime = 3600
	maxNormalMint   = 100 * time.Millisecond // a healthy mint answers within this
	maxNormalToken  = 300 * time.Millisecond // a healthy token endpoint answers within this
	minSlowAnswer   = time.Second            // a slow answer takes 1–9.5 s
	maxSlowAnswer   = 9500 * time.Millisecond
)

// endpoint tells the mint from the token endpoint in the counts.
type endpoint int

const (
	atMint endpoint = iota
	atToken
)

func (e endpoint) String() string { return [...]string{"mint", "token endpoint"}[e] }

// faultKind is one way a request can go wrong.
type faultKind int

const (
	faultNone       faultKind = iota
	fault5xx                  // 500/502/503/504 (and 529 from the token endpoint); the mint's 502–504 are retried inside the source
	faultRejected             // mint 401/403, token endpoint 401 authentication_error or 400 invalid_grant: non-recoverable
	faultHang                 // no answer until the request's context ends: the attempt budget
	faultMalformed            // 200 with a body that is not a valid reply
	faultRetryAfter           // token endpoint 429/503 with Retry-After (1–120 s, seconds or HTTP-date)
	faultSlow                 // a correct answer after 1–9.5 s
	faultReset                // the connection drops: a transport error
	numFaultKinds
)

var faultNames = [numFaultKinds]string{"none", "5xx", "rejected", "hang", "malformed", "retry-after", "slow", "reset"}

func (k faultKind) String() string { return faultNames[k] }

// errSoakReset is the transport error of a dropped connection.
var errSoakReset = errors.New("soak: connection reset by peer")

// regime is the fault plan of one phase: each request fails with probability
// p, with a kind drawn from kinds. Closing release ends the phase: faulty
// answers still in progress are cut at once (connection reset), so that the
// end of a phase ends every fault — otherwise a hang begun just before would
// stretch recovery to the attempt budget.
type regime struct {
	name    string
	p       float64
	kinds   []faultKind
	release chan struct{}
}

// issuedToken is the wire's record of an access token it granted: the
// oracle against which every served token is judged.
type issuedToken struct {
	value      string
	generation uint64        // the n-th grant the refresher accepted
	sent       time.Time     // when the exchange request arrived (= was sent: no time passes on the way)
	lifetime   time.Duration // expires_in
	edge       time.Time     // sent + L − min(30 s, L/10): served only before this
}

// soakWire is the transport. Its decisions come from rng under w.mu, in the
// order requests arrive, so one seed gives one fault plan.
type soakWire struct {
	w   *soakWorld
	rng *rand.Rand // guarded by w.mu
}

// plan is what the wire will answer to one request.
type plan struct {
	kind    faultKind
	delay   time.Duration
	status  int
	header  http.Header
	body    string
	grant   *issuedToken // a successful exchange's token, recorded when delivered
	release chan struct{}
}

func (x *soakWire) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	w := x.w
	w.mu.Lock()
	w.inFlight++
	if w.inFlight > 1 {
		w.violate("%d requests in flight at once (%s %s)", w.inFlight, req.Method, req.URL.Host)
	}
	var p plan
	switch req.URL.Host {
	case soakMintHost:
		p = x.planMint(req)
	case soakTokenHost:
		p = x.planToken(req, reqBody)
	default:
		w.violate("request to unexpected host %q", req.URL.Host)
		p = plan{kind: faultReset}
	}
	w.mu.Unlock()

	ctx := req.Context()
	var cut <-chan struct{}
	if p.kind != faultNone {
		cut = p.release // faulty answers end with their phase
	}
	if p.kind == faultHang {
		p.delay = math.MaxInt64
	}
	timer := time.NewTimer(p.delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		w.requestAborted(false) // the attempt's budget ran out
		return nil, ctx.Err()
	case <-cut:
		w.requestAborted(true)
		return nil, errSoakReset
	case <-timer.C:
	}
	if p.kind == faultReset {
		w.requestAborted(false)
		return nil, errSoakReset
	}
	if p.grant != nil {
		w.delivered(*p.grant)
	}
	return &http.Response{
		StatusCode: p.status, Status: strconv.Itoa(p.status) + " " + http.StatusText(p.status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: p.header, Body: &soakBody{Reader: strings.NewReader(p.body), w: w},
		ContentLength: int64(len(p.body)), Request: req,
	}, nil
}

// draw picks this request's fault under the current regime.
func (x *soakWire) draw(at endpoint) faultKind {
	reg := x.w.regime
	if reg.p == 0 || x.rng.Float64() >= reg.p {
		return faultNone
	}
	k := reg.kinds[x.rng.IntN(len(reg.kinds))]
	if k == faultRetryAfter && at == atMint {
		k = fault5xx // the mint sends no Retry-After
	}
	return k
}

// planMint answers the GitHub Actions mint: {"value": "<jwt>"}.
func (x *soakWire) planMint(req *http.Request) plan {
	w := x.w
	if req.Method != http.MethodGet || req.Header.Get("Authorization") != "Bearer "+testRequestToken ||
		req.URL.Query().Get("audience") != soakAudience || req.URL.Query().Get("api-version") != "2.0" {
		w.violate("mint request malformed: %s %s", req.Method, req.URL.Path)
	}
	k := x.draw(atMint)
	p := plan{kind: k, delay: time.Duration(x.rng.Int64N(int64(maxNormalMint))), status: http.StatusOK,
		header: http.Header{"Content-Type": {"application/json"}}, release: w.regime.release}
	switch k {
	case fault5xx:
		p.status = [...]int{500, 502, 503, 504}[x.rng.IntN(4)]
		p.body = "upstream trouble"
	case faultRejected:
		p.status = [...]int{401, 403}[x.rng.IntN(2)]
		p.body = `{"message":"Bad credentials ` + testRequestToken + `"}` // echoes the request token
	case faultMalformed:
		p.body = [...]string{`not json`, `{"value":5}`, `{"value":""}`, `{}`}[x.rng.IntN(4)]
	case faultSlow:
		p.delay = minSlowAnswer + time.Duration(x.rng.Int64N(int64(maxSlowAnswer-minSlowAnswer)))
		fallthrough
	case faultNone:
		w.minted++
		p.body = `{"value":"` + soakJWT(w.minted, w.now()) + `"}`
	}
	w.lastFault = attemptFault{kind: k, at: atMint}
	w.faults[atMint][k]++
	return p
}

// planToken answers the token endpoint, after checking the request and that
// its JWT was minted and was never presented before (each JWT is
// single-use; the source must mint one per attempt).
func (x *soakWire) planToken(req *http.Request, body []byte) plan {
	w := x.w
	var r exchangeRequest
	if err := json.Unmarshal(body, &r); err != nil || req.Method != http.MethodPost ||
		req.Header.Get("Anthropic-Beta") != exchangeBetas || r.GrantType != jwtBearerGrant ||
		r.FederationRuleID != "fdrl_soak" || r.OrganizationID == "" || r.ServiceAccountID != "svac_soak" {
		w.violate("token request malformed")
	}
	jti := soakJTI(r.Assertion)
	switch {
	case jti == 0 || jti > w.minted:
		w.violate("presented a JWT the mint never issued")
	case jti <= w.presented:
		w.violate("presented JWT %d again after JWT %d: a single-use JWT replayed", jti, w.presented)
	}
	w.presented = max(w.presented, jti)

	k := x.draw(atToken)
	p := plan{kind: k, delay: time.Duration(x.rng.Int64N(int64(maxNormalToken))), status: http.StatusOK,
		header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_soak"}}, release: w.regime.release}
	fault := attemptFault{kind: k, at: atToken}
	anthropicError := func(typ, msg string) string {
		return `{"type":"error","error":{"type":"` + typ + `","message":"` + msg + `"}}`
	}
	switch k {
	case fault5xx:
		p.status = [...]int{500, 502, 503, 504, 529}[x.rng.IntN(5)]
		p.body = anthropicError("api_error", "Internal server error")
	case faultRejected:
		if x.rng.IntN(2) == 0 {
			p.status = http.StatusUnauthorized
			p.body = anthropicError("authentication_error", "assertion Bearer "+r.Assertion+" rejected") // echoes the JWT
		} else {
			p.status = http.StatusBadRequest
			p.body = `{"error":"invalid_grant","error_description":"jwt ` + r.Assertion + ` expired"}`
		}
	case faultRetryAfter:
		p.status = [...]int{429, 503}[x.rng.IntN(2)]
		p.body = anthropicError("rate_limit_error", "slow down")
		secs := 1 + x.rng.Int64N(120) // beyond 60 s too: honoured only up to 60 s
		if x.rng.IntN(4) == 0 {
			// HTTP-date form: whole seconds, so the wait is within 1 s of secs.
			p.header.Set("Retry-After", w.now().Add(time.Duration(secs)*time.Second).UTC().Format(http.TimeFormat))
			fault.retryAfterSlack = time.Second
		} else {
			p.header.Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		fault.retryAfter = min(time.Duration(secs)*time.Second, maxRetryAfterWait)
	case faultMalformed:
		p.body = [...]string{
			`not json`,
			`{"token_type":"Bearer","expires_in":600}`,
			`{"access_token":"` + accessTokenPrefix + `soak bad","expires_in":600}`,
			`{"access_token":"` + accessTokenPrefix + `soak","token_type":"mac","expires_in":600}`,
			`{"access_token":"` + accessTokenPrefix + `soak","expires_in":0}`,
			`{"access_token":"` + accessTokenPrefix + `soak","expires_in":"600"}`,
		}[x.rng.IntN(6)]
	case faultSlow:
		p.delay = minSlowAnswer + time.Duration(x.rng.Int64N(int64(maxSlowAnswer-minSlowAnswer)))
		fallthrough
	case faultNone:
		// Lifetimes log-uniform in [10 s, 1 h], whole seconds as expires_in is.
		secs := int64(math.Round(minSoakLifetime * math.Pow(maxSoakLifetime/minSoakLifetime, x.rng.Float64())))
		l := time.Duration(secs) * time.Second
		now := w.now()
		w.grants++
		tok := &issuedToken{
			value:    fmt.Sprintf("%ssoak-%d-%08x", accessTokenPrefix, w.grants, x.rng.Uint32()),
			sent:     now,
			lifetime: l,
			edge:     now.Add(l - min(30*time.Second, l/10)),
		}
		p.grant = tok
		p.body = `{"access_token":"` + tok.value + `","token_type":"Bearer","expires_in":` +
			strconv.FormatInt(secs, 10) + `,"scope":"user:inference"}`
	}
	w.lastFault = fault
	w.faults[atToken][k]++
	return p
}

// soakBody is a response body that ends its request when closed.
type soakBody struct {
	*strings.Reader
	w    *soakWorld
	once sync.Once
}

func (b *soakBody) Close() error {
	b.once.Do(b.w.requestDone)
	return nil
}

// soakJWT is the n-th JWT the mint issues: unsigned, five minutes long, with
// jti n.
func soakJWT(n uint64, now time.Time) string {
	claims := fmt.Sprintf(`{"iss":"https://token.actions.githubusercontent.com","sub":"repo:octo/extauthz:ref:refs/heads/main","aud":%q,"jti":"%d","iat":%d,"exp":%d}`,
		soakAudience, n, now.Unix(), now.Unix()+300)
	return soakJWTHeader + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + "." + soakJWTSignature
}

var (
	soakJWTHeader    = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"soak","typ":"JWT"}`))
	soakJWTSignature = base64.RawURLEncoding.EncodeToString([]byte("not-a-real-signature"))
)

// soakJTI reads the jti a soakJWT carries, or 0.
func soakJTI(jwt string) uint64 {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return 0
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0
	}
	var c struct{ JTI string }
	if json.Unmarshal(payload, &c) != nil {
		return 0
	}
	n, _ := strconv.ParseUint(c.JTI, 10, 64)
	return n
}
