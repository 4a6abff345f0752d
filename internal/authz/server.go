package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// ServiceName is the gRPC service name, also used for grpc.health.v1 status.
const ServiceName = "envoy.service.auth.v3.Authorization"

// ErrInvalidOptions is wrapped by every problem NewServer reports.
var ErrInvalidOptions = errors.New("invalid authz options")

// unusableRetryAfter is the retry-after sent while the credential cannot be
// put in a header: a refresh may replace it, so clients should come back, but
// not at once.
const unusableRetryAfter = 5 * time.Second

// Options configures a Server.
type Options struct {
	// Mode selects the header that carries the credential.
	Mode Mode
	// Credentials is read on every Check; it must not block.
	Credentials Credentials
	// AllowedHosts is EXTAUTHZ_ALLOWED_HOSTS, already split: DNS names or IP
	// literals (see AllowedHostProblem). A request's authority must then be
	// exactly host or host:port — a name, an IPv4 address or a bracketed
	// IPv6 address, and a port 1–65535 — with a host that equals an entry
	// (names with ASCII case folded and one trailing dot ignored, addresses
	// as addresses); anything else is denied with 403. Empty allows any
	// host and checks nothing.
	AllowedHosts []string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Observer, if set, is told the result and duration of every Check.
	Observer Observer
}

// Server implements envoy.service.auth.v3.Authorization. It is safe for
// concurrent use; Check takes no lock and writes no shared state except the
// atomics that rate-limit denial logs and the answer of the current
// credential generation.
type Server struct {
	mode     Mode
	creds    Credentials
	hosts    hostList
	log      *slog.Logger
	observer Observer
	answer   atomic.Pointer[okAnswer] // of the latest credential generation seen

	// One throttle per kind of log line, so one kind cannot hide another.
	invalidLog, badAuthorityLog, forbiddenLog, unavailableLog, unusableLog logThrottle
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// NewServer validates o and returns a Server. Every problem is reported at
// once, each wrapping ErrInvalidOptions.
func NewServer(o Options) (*Server, error) {
	var errs []error
	if !o.Mode.valid() {
		errs = append(errs, fmt.Errorf("%w: unknown mode %v", ErrInvalidOptions, o.Mode))
	}
	if o.Credentials == nil {
		errs = append(errs, fmt.Errorf("%w: no credentials", ErrInvalidOptions))
	}
	hosts, hostErrs := newHostList(o.AllowedHosts)
	errs = append(errs, hostErrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Server{mode: o.Mode, creds: o.Credentials, hosts: hosts, log: o.Logger, observer: o.Observer}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Check answers one ext_authz request. It always returns a CheckResponse and
// a nil error: denials are responses, so Envoy relays their status and body
// instead of falling back to status_on_error. A server registered with
// Register answers through checkWire instead, with the same decisions.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := time.Now()
	http := req.GetAttributes().GetRequest().GetHttp()
	v := s.decide(ctx, start, typedRequest{http})
	var resp *authv3.CheckResponse
	if v.allow != nil {
		var beta string
		if s.mode == ModeWIF {
			beta = requestBeta(http)
		}
		resp = allowResponse(s.mode, v.allow.credential, beta)
	} else {
		resp = denyResponse(v.deny)
	}
	s.observe(v.result, start)
	return resp, nil
}

// observe reports one Check to the Observer.
func (s *Server) observe(r Result, start time.Time) {
	if s.observer != nil {
		s.observer.CheckFinished(r, time.Since(start))
	}
}

// verdict is what decide concludes: allow with the credential's answer, or
// deny.
type verdict struct {
	result Result
	allow  *okAnswer // ResultOK only
	deny   denial    // any other result
}

// decide is the failure policy. It fails closed: a request that is not
// certainly allowed gets no credential.
//   - No HTTP attributes: 400, the request is malformed and retrying cannot
//     help.
//   - Host not allowed: 403, before the credential is even read. It is
//     permanent; a 503 would send SDKs into retry loops. An authority that
//     is not exactly host or host:port (hosts.go) is not allowed either.
//   - No servable credential: 503 with retry-after, the state is transient
//     (cold start, refresh outage); never an OK without the credential.
//   - A credential that is not a valid header value is a bug or a bad
//     upstream answer: 503 as well, and an ERROR log, rather than a broken
//     header.
//
// Request strings that go into a log line are copied: they may alias the
// fast path's receive buffer, and a handler may keep a record.
func (s *Server) decide(ctx context.Context, now time.Time, req request) verdict {
	if !req.hasHTTP() {
		s.logDenial(ctx, now, &s.invalidLog, invalidDenial, slog.String("reason", "no attributes.request.http"))
		return verdict{result: ResultInvalid, deny: invalidDenial}
	}
	if !s.hosts.empty() {
		raw := req.authority()
		host, ok, allowed := s.hosts.match(raw)
		switch {
		case !ok && raw != "":
			// Not host[:port]: never guess which host is meant. The value is
			// neither logged nor echoed, as it may carry userinfo.
			d := badAuthorityDenial
			s.logDenial(ctx, now, &s.badAuthorityLog, d, slog.String("reason", "authority is not host or host:port"),
				slog.Int("authority_len", len(raw)), slog.String("request_id", strings.Clone(req.id())))
			return verdict{result: d.result, deny: d}
		case !allowed:
			d := forbiddenDenial(host)
			s.logDenial(ctx, now, &s.forbiddenLog, d, slog.String("reason", "host not allowed"),
				slog.String("host", strings.Clone(truncate(host, maxHostInBody))), slog.String("request_id", strings.Clone(req.id())))
			return verdict{result: d.result, deny: d}
		}
	}
	cred, retryAfter, ok := s.creds.Credential(now)
	if !ok {
		d := unavailableDenial(retryAfter, unavailableBody)
		s.logDenial(ctx, now, &s.unavailableLog, d, slog.String("reason", "no servable credential"),
			slog.Int64("retry_after_s", retrySeconds(retryAfter)))
		return verdict{result: d.result, deny: d}
	}
	answer := s.answerFor(cred)
	if !answer.usable {
		if ok, suppressed := s.unusableLog.allow(now); ok {
			s.log.LogAttrs(ctx, slog.LevelError, "credential cannot be sent as a header value; denying with 503",
				slog.String("mode", s.mode.String()), slog.Any("credential", cred.Value),
				slog.Int("credential_len", cred.Value.Len()), slog.Uint64("generation", cred.Generation),
				slog.Int64("suppressed", suppressed))
		}
		return verdict{result: ResultUnavailable, deny: unavailableDenial(unusableRetryAfter, unusableBody)}
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "check allowed",
			slog.String("mode", s.mode.String()), slog.Any("credential", cred.Value),
			slog.Uint64("generation", cred.Generation), slog.String("request_id", strings.Clone(req.id())))
	}
	return verdict{result: ResultOK, allow: answer}
}

// logDenial writes one WARN line for d unless its throttle holds it back.
// It never logs request headers or the credential.
func (s *Server) logDenial(ctx context.Context, now time.Time, t *logThrottle, d denial, attrs ...slog.Attr) {
	ok, suppressed := t.allow(now)
	if !ok {
		return
	}
	attrs = append(attrs,
		slog.String("result", string(d.result)),
		slog.Int("http_status", int(d.httpStatus)),
		slog.Int64("suppressed", suppressed))
	s.log.LogAttrs(ctx, slog.LevelWarn, "check denied", attrs...)
}

// truncate cuts s to at most n bytes for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
