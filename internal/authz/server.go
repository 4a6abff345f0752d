package authz

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"extauthz/internal/logthrottle"
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
	// Credentials are the configured credentials, at least one. Each
	// request gets one of them (see credentialSet.choose) or a 403.
	Credentials []NamedCredentials
	// ByPrincipal maps peer principals to credential names.
	ByPrincipal []PrincipalRule
	// AllowedHosts is EXTAUTHZ_ALLOWED_HOSTS, already split: DNS names or IP
	// literals (see AllowedHostProblem). A request's authority must then be
	// exactly host or host:port — a name, an IPv4 address or a bracketed
	// IPv6 address, and a port 1–65535 — with a host that equals an entry
	// (names with ASCII case folded and one trailing dot ignored, addresses
	// as addresses); anything else is denied with 403. Empty allows any
	// host and checks nothing.
	AllowedHosts []string
	// Authorize, if set, is asked before every Check whether the caller may
	// have an answer (caller authentication); a non-nil error is returned to
	// the caller as the RPC's error. It must be cheap: it runs on the fast
	// path.
	Authorize func(ctx context.Context) error
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Observer, if set, is told the result and duration of every Check.
	Observer Observer
}

// Server implements envoy.service.auth.v3.Authorization. It is safe for
// concurrent use; Check takes no lock and writes no shared state except the
// atomics that rate-limit logs and each credential's answer of its current
// generation.
type Server struct {
	creds     credentialSet
	hosts     hostList
	authorize func(ctx context.Context) error
	log       *slog.Logger
	observer  Observer

	// One throttle per kind of log line, so one kind cannot hide another.
	invalidLog, badAuthorityLog, forbiddenLog, unavailableLog, unusableLog, unknownLog, unselectedLog logthrottle.Throttle
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// NewServer validates o and returns a Server. Every problem is reported at
// once, each wrapping ErrInvalidOptions.
func NewServer(o Options) (*Server, error) {
	creds, errs := newCredentialSet(o.Credentials, o.ByPrincipal)
	hosts, hostErrs := newHostList(o.AllowedHosts)
	errs = append(errs, hostErrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Server{creds: creds, hosts: hosts, authorize: o.Authorize, log: o.Logger, observer: o.Observer}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Check answers one ext_authz request. It returns a CheckResponse and a nil
// error — denials are responses, so Envoy relays their status and body
// instead of falling back to status_on_error — unless Authorize refuses the
// caller. A server registered with Register answers through checkWire
// instead, with the same decisions.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if s.authorize != nil {
		if err := s.authorize(ctx); err != nil {
			return nil, err
		}
	}
	return s.checkTyped(ctx, req), nil
}

// checkTyped is Check for an authorized caller.
func (s *Server) checkTyped(ctx context.Context, req *authv3.CheckRequest) *authv3.CheckResponse {
	start := time.Now()
	attrs := req.GetAttributes()
	v := s.decide(ctx, start, typedRequest{attrs})
	var resp *authv3.CheckResponse
	if v.allow != nil {
		var beta string
		if v.cred.mode == ModeWIF {
			beta = requestBeta(attrs.GetRequest().GetHttp())
		}
		resp = allowResponse(v.cred.mode, v.allow.credential, beta, v.allow.metadata)
	} else {
		resp = denyResponse(v.deny)
	}
	s.observe(v, start)
	return resp
}

// observe reports one Check to the Observer.
func (s *Server) observe(v verdict, start time.Time) {
	if s.observer != nil {
		i := -1
		if v.cred != nil {
			i = v.cred.index
		}
		s.observer.CheckFinished(i, v.result, time.Since(start))
	}
}

// verdict is what decide concludes: allow with the credential's answer, or
// deny.
type verdict struct {
	result Result
	cred   *credential // the selected credential; nil if none was
	allow  *okAnswer   // ResultOK only
	deny   denial      // any other result
}

// decide is the failure policy. It fails closed: a request that is not
// certainly allowed gets no credential.
//   - No HTTP attributes: 400, the request is malformed and retrying cannot
//     help.
//   - Host not allowed: 403, before the credential is even read. It is
//     permanent; a 503 would send SDKs into retry loops. An authority that
//     is not exactly host or host:port (hosts.go) is not allowed either.
//   - No credential selected (an unknown name in context_extensions, or
//     several credentials and no rule that picks one): 403, also permanent
//     — it is a configuration mismatch, logged as an ERROR when Envoy names
//     a credential extauthz does not have.
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
		s.logDenial(ctx, now, slog.LevelWarn, &s.invalidLog, invalidDenial, slog.String("reason", "no attributes.request.http"))
		return verdict{result: ResultInvalid, deny: invalidDenial}
	}
	c, how := s.creds.choose(req)
	if !s.hosts.empty() {
		raw := req.authority()
		host, ok, allowed := s.hosts.match(raw)
		switch {
		case !ok && raw != "":
			// Not host[:port]: never guess which host is meant. The value is
			// neither logged nor echoed, as it may carry userinfo.
			d := badAuthorityDenial
			s.logDenial(ctx, now, slog.LevelWarn, &s.badAuthorityLog, d, slog.String("reason", "authority is not host or host:port"),
				slog.Int("authority_len", len(raw)), slog.String("request_id", strings.Clone(req.id())))
			return verdict{result: d.result, cred: c, deny: d}
		case !allowed:
			d := forbiddenDenial(host)
			s.logDenial(ctx, now, slog.LevelWarn, &s.forbiddenLog, d, slog.String("reason", "host not allowed"),
				slog.String("host", strings.Clone(truncate(host, maxHostInBody))), slog.String("request_id", strings.Clone(req.id())))
			return verdict{result: d.result, cred: c, deny: d}
		}
	}
	switch how {
	case unknownExtension:
		name, _ := req.extension(CredentialExtension)
		d := unknownCredentialDenial(name)
		s.logDenial(ctx, now, slog.LevelError, &s.unknownLog, d,
			slog.String("reason", "context_extensions names a credential that is not configured (EXTAUTHZ_CREDENTIALS)"),
			slog.String("credential", strings.Clone(truncate(name, maxNameInBody))), slog.String("request_id", strings.Clone(req.id())))
		return verdict{result: d.result, deny: d}
	case noCredential:
		s.logDenial(ctx, now, slog.LevelWarn, &s.unselectedLog, noCredentialDenial,
			slog.String("reason", "no credential selected: no context_extensions credential, no EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL match"),
			slog.String("principal", strings.Clone(truncate(req.principal(), maxNameInBody))), slog.String("request_id", strings.Clone(req.id())))
		return verdict{result: noCredentialDenial.result, deny: noCredentialDenial}
	}
	cred, retryAfter, ok := c.source.Credential(now)
	if !ok {
		d := unavailableDenial(retryAfter, unavailableBody)
		s.logDenial(ctx, now, slog.LevelWarn, &s.unavailableLog, d, slog.String("reason", "no servable credential"),
			slog.String("credential", c.name), slog.Int64("retry_after_s", retrySeconds(retryAfter)))
		return verdict{result: d.result, cred: c, deny: d}
	}
	answer := c.answerFor(cred)
	if !answer.usable {
		if ok, suppressed := s.unusableLog.Allow(now); ok {
			s.log.LogAttrs(ctx, slog.LevelError, "credential cannot be sent as a header value; denying with 503",
				slog.String("credential", c.name), slog.String("mode", c.mode.String()), slog.Any("value", cred.Value),
				slog.Int("value_len", cred.Value.Len()), slog.Uint64("generation", cred.Generation),
				slog.Int64("suppressed", suppressed))
		}
		return verdict{result: ResultUnavailable, cred: c, deny: unavailableDenial(unusableRetryAfter, unusableBody)}
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "check allowed",
			slog.String("credential", c.name), slog.String("mode", c.mode.String()), slog.Any("value", cred.Value),
			slog.Uint64("generation", cred.Generation), slog.String("request_id", strings.Clone(req.id())))
	}
	return verdict{result: ResultOK, cred: c, allow: answer}
}

// logDenial writes one line for d at level unless its throttle holds it
// back. It never logs request headers or the credential.
func (s *Server) logDenial(ctx context.Context, now time.Time, level slog.Level, t *logthrottle.Throttle, d denial, attrs ...slog.Attr) {
	ok, suppressed := t.Allow(now)
	if !ok {
		return
	}
	attrs = append(attrs,
		slog.String("result", string(d.result)),
		slog.Int("http_status", int(d.httpStatus)),
		slog.Int64("suppressed", suppressed))
	s.log.LogAttrs(ctx, level, "check denied", attrs...)
}

// truncate cuts s to at most n bytes for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
