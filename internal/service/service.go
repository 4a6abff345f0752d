// Package service assembles extauthz from a validated configuration: the
// credential (a refresher or a static key), the Check server, gRPC health, the
// HTTP endpoints and telemetry, and runs them until its context ends.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"extauthz/internal/authz"
	"extauthz/internal/config"
	"extauthz/internal/telemetry"
	"extauthz/internal/tokens"
)

// streamWorkers is the number of goroutines that serve RPCs (see
// grpc.NumStreamWorkers in New).
const streamWorkers = 64

// Shutdown bounds. GracefulStop lets in-flight Checks (microseconds each)
// finish; anything still open after gracePeriod is cut so that a stuck client
// cannot hold a terminating pod past Kubernetes' default 30 s grace.
const (
	gracePeriod     = 5 * time.Second
	httpStopTimeout = 2 * time.Second
)

// Options are the service's dependencies that do not come from the environment.
type Options struct {
	// Logger receives the service's logs; default slog.Default().
	Logger *slog.Logger
	// HTTPClient makes the identity and exchange calls; default NewHTTPClient().
	HTTPClient *http.Client
	// Version is reported in logs, the exchange User-Agent and traces.
	Version string
	// Lookup reads the OTEL_* variables; default os.LookupEnv.
	Lookup func(string) (string, bool)
}

// Service is one running extauthz.
type Service struct {
	cfg       *config.Config
	log       *slog.Logger
	metrics   *telemetry.Metrics
	refresher *tokens.Refresher // nil in static-key mode
	health    *health.Server
	grpcSrv   *grpc.Server
	httpSrv   *http.Server // nil when EXTAUTHZ_HTTP_ADDR=off

	stopTracing func(context.Context) error
	grpcLn      net.Listener
	httpLn      net.Listener
	stopping    atomic.Bool
}

// New builds the service from cfg. It makes no network call and binds nothing.
func New(ctx context.Context, cfg *config.Config, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient()
	}
	if o.Lookup == nil {
		o.Lookup = os.LookupEnv
	}
	s := &Service{cfg: cfg, log: o.Logger, health: health.NewServer()}

	var err error
	s.metrics, err = telemetry.NewMetrics(cfg.Type(), s.Ready)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	creds, err := s.buildCredential(o)
	if err != nil {
		return nil, err
	}
	mode := authz.ModeWIF
	if s.refresher == nil {
		mode = authz.ModeStaticKey
	}
	check, err := authz.NewServer(authz.Options{
		Mode:         mode,
		Credentials:  creds,
		AllowedHosts: cfg.AllowedHosts,
		Logger:       o.Logger,
		Observer:     s.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("check server: %w", err)
	}
	if telemetry.TracingEnabled(o.Lookup) {
		if s.stopTracing, err = telemetry.StartTracing(ctx, o.Lookup, o.Version); err != nil {
			return nil, err
		}
	}

	s.grpcSrv = grpc.NewServer(
		// Envoy may keep the connection alive with HTTP/2 pings; grpc-go's
		// default enforcement (one ping per 5 min) would answer a shorter
		// interval with GOAWAY too_many_pings and churn connections.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// The fast Check path: requests are scanned, not decoded, and OK
		// responses are sent as bytes encoded once per token generation.
		// Every other message (health) goes through the standard proto codec.
		grpc.ForceServerCodecV2(authz.NewCodec()),
		// Without workers grpc-go starts a goroutine per RPC, and growing its
		// stack (runtime.newstack/copystack) was 26 % of server CPU; workers
		// keep their grown stacks. 64 covers the sidecar shape (2 Envoy
		// workers × 32 in flight); more streams than workers fall back to a
		// goroutine each. Measured (perf-notes.md): server CPU per Check
		// 14.7 → 9.6 µs, 1.37× → 1.99× the baseline's requests/s; 16 workers
		// gained less, 128 and 256 less than 64 (idle workers take turns and
		// their stacks go cold).
		grpc.NumStreamWorkers(streamWorkers),
	)
	check.Register(s.grpcSrv)
	healthpb.RegisterHealthServer(s.grpcSrv, s.health)
	s.setServing(s.refresher == nil) // a static key is servable at once

	if !isOff(cfg.HTTPAddr) {
		s.httpSrv = s.newHTTPServer()
	}
	return s, nil
}

// buildCredential chooses the credential for the configured type, once, at
// startup.
func (s *Service) buildCredential(o Options) (authz.Credentials, error) {
	cfg := s.cfg
	var source tokens.IdentitySource
	switch cfg.Type() {
	case config.TypeStaticKey:
		return authz.StaticKey(cfg.APIKey), nil
	case config.TypeGitHubOIDC:
		gh, err := tokens.NewGitHubActions(cfg.ActionsRequestURL, cfg.ActionsRequestToken, cfg.Audience, o.HTTPClient)
		if err != nil {
			return nil, fmt.Errorf("github-oidc source: %w", err)
		}
		source = gh
	case config.TypeOIDCFile:
		source = tokens.NewTokenFile(cfg.TokenFile)
	default:
		return nil, fmt.Errorf("unknown authentication type %q", cfg.Type())
	}
	ex, err := tokens.NewAnthropicExchanger(tokens.AnthropicConfig{
		TokenURL:         cfg.TokenURL,
		FederationRuleID: cfg.FederationRuleID,
		OrganizationID:   cfg.OrganizationID,
		ServiceAccountID: cfg.ServiceAccountID,
		WorkspaceID:      cfg.WorkspaceID,
		UserAgent:        "extauthz/" + o.Version,
	}, o.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("anthropic exchanger: %w", err)
	}
	s.refresher, err = tokens.NewRefresher(tokens.RefresherOptions{
		Name:      tokens.DefaultName,
		Source:    source,
		Exchanger: ex,
		Logger:    s.log,
		Observer:  observers{s.metrics, healthUpdater{s}},
	})
	if err != nil {
		return nil, fmt.Errorf("refresher: %w", err)
	}
	return refresherCredentials{s.refresher}, nil
}

// Listen binds the gRPC and HTTP listeners, so that callers (and tests) can
// learn the addresses before Run. Run calls it if it has not been called.
func (s *Service) Listen() error {
	var err error
	if s.grpcLn, err = listen(s.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("EXTAUTHZ_GRPC_ADDR: %w", err)
	}
	if s.httpSrv != nil {
		if s.httpLn, err = listen(s.cfg.HTTPAddr); err != nil {
			s.grpcLn.Close()
			return fmt.Errorf("EXTAUTHZ_HTTP_ADDR: %w", err)
		}
	}
	return nil
}

// GRPCAddr is the bound gRPC address: host:port, or unix:/path.
func (s *Service) GRPCAddr() string { return addrString(s.grpcLn) }

// HTTPAddr is the bound HTTP address, or "" when it is off or not bound.
func (s *Service) HTTPAddr() string { return addrString(s.httpLn) }

// Ready reports whether a servable credential exists now and the service is
// not shutting down: the rule behind grpc.health.v1, /readyz and extauthz_ready.
func (s *Service) Ready() bool {
	if s.stopping.Load() {
		return false
	}
	if s.refresher == nil {
		return true
	}
	t, _ := s.refresher.Token(time.Now())
	return t != nil
}

// Run serves until ctx ends or a listener fails, then shuts down: health goes
// NOT_SERVING, gRPC stops gracefully within gracePeriod, the HTTP server
// stops, the refresher stops. A clean stop returns nil.
func (s *Service) Run(ctx context.Context) error {
	if s.grpcLn == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	// The refresher owns its context: it outlives the serving context until
	// the servers have drained, and no caller's context ever reaches it.
	refreshCtx, stopRefresher := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRefresher()
	var wg sync.WaitGroup
	if s.refresher != nil {
		wg.Go(func() { _ = s.refresher.Run(refreshCtx) })
	}

	errc := make(chan error, 2)
	go func() { errc <- s.grpcSrv.Serve(s.grpcLn) }()
	if s.httpSrv != nil {
		go func() {
			if err := s.httpSrv.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	s.log.Info("extauthz serving", "type", s.cfg.Type(), "grpc_addr", s.GRPCAddr(),
		"http_addr", s.HTTPAddr(), "allowed_hosts", s.cfg.AllowedHosts)

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case err := <-errc:
		runErr = fmt.Errorf("server stopped: %w", err)
		s.log.Error("server failed, shutting down", "error", err)
	}
	s.stopping.Store(true)
	s.health.Shutdown() // NOT_SERVING for every service, and no more updates

	stopped := make(chan struct{})
	go func() { s.grpcSrv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(gracePeriod):
		s.log.Warn("graceful stop timed out, closing connections", "after", gracePeriod)
		s.grpcSrv.Stop()
		<-stopped
	}
	if s.httpSrv != nil {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpStopTimeout)
		_ = s.httpSrv.Shutdown(hctx)
		cancel()
	}
	stopRefresher()
	wg.Wait()

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpStopTimeout)
	defer cancel()
	if s.stopTracing != nil {
		if err := s.stopTracing(fctx); err != nil {
			s.log.Warn("flushing traces failed", "error", err)
		}
	}
	_ = s.metrics.Shutdown(fctx)
	s.log.Info("stopped")
	return runErr
}

// setServing sets grpc.health.v1 for the whole server and for the ext_authz
// service name.
func (s *Service) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(authz.ServiceName, st)
}

func isOff(addr string) bool { return addr == "" || addr == "off" } // config lower-cases "off"
