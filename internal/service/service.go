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

	"extauthz/internal/admin"
	"extauthz/internal/authz"
	"extauthz/internal/callerauth"
	"extauthz/internal/config"
	"extauthz/internal/telemetry"
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
	cfg      *config.Config
	log      *slog.Logger
	metrics  *telemetry.Metrics
	creds    []*credential // in configuration order
	health   *health.Server
	healthM  sync.Mutex // orders the health updates of several refreshers
	grpcSrv  *grpc.Server
	httpSrv  *http.Server  // nil when EXTAUTHZ_HTTP_ADDR=off
	changes  admin.Changes // status changes, for the admin API's watchers
	admin    *admin.Server
	adminSrv *grpc.Server          // nil when EXTAUTHZ_ADMIN_ADDR=off
	tls      *callerauth.ServerTLS // nil without EXTAUTHZ_TLS_*
	guard    *callerauth.Guard     // authenticates the gRPC listener's callers

	stopTracing func(context.Context) error
	grpcLn      net.Listener
	httpLn      net.Listener
	adminLn     net.Listener
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

	names := make([]string, len(cfg.Credentials))
	for i, c := range cfg.Credentials {
		names[i] = c.Name
	}
	var err error
	s.metrics, err = telemetry.NewMetrics(names, s.Ready)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var named []authz.NamedCredentials
	for i, c := range cfg.Credentials {
		cred, err := s.buildCredential(i, c, o)
		if err != nil {
			return nil, fmt.Errorf("credential %s: %w", c.Name, err)
		}
		s.creds = append(s.creds, cred)
		named = append(named, authz.NamedCredentials{Name: c.Name, Mode: cred.mode, Credentials: cred.check})
	}
	if err := s.setUpCallers(o); err != nil {
		return nil, err
	}
	check, err := s.newCheckServer(named, o)
	if err != nil {
		return nil, err
	}
	if telemetry.TracingEnabled(o.Lookup) {
		if s.stopTracing, err = telemetry.StartTracing(ctx, o.Lookup, o.Version); err != nil {
			return nil, err
		}
	}
	if err := s.newGRPCServer(check, o); err != nil {
		return nil, err
	}
	s.updateHealth() // static keys are servable at once

	if !isOff(cfg.HTTPAddr) {
		s.httpSrv = s.newHTTPServer()
	}
	if !isOff(cfg.AdminAddr) {
		if err := s.newAdminServer(o); err != nil {
			return nil, err
		}
	}
	return s, nil
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
	if s.adminSrv != nil {
		if s.adminLn, err = listen(s.cfg.AdminAddr); err != nil {
			s.grpcLn.Close()
			if s.httpLn != nil {
				s.httpLn.Close()
			}
			return fmt.Errorf("EXTAUTHZ_ADMIN_ADDR: %w", err)
		}
	}
	return nil
}

// GRPCAddr is the bound gRPC address: host:port, or unix:/path.
func (s *Service) GRPCAddr() string { return addrString(s.grpcLn) }

// HTTPAddr is the bound HTTP address, or "" when it is off or not bound.
func (s *Service) HTTPAddr() string { return addrString(s.httpLn) }

// AdminAddr is the bound admin API address, or "" when it is off or not bound.
func (s *Service) AdminAddr() string { return addrString(s.adminLn) }

// Ready reports whether every credential is servable now and the service
// is not shutting down: the rule behind grpc.health.v1, /readyz and
// extauthz_ready.
func (s *Service) Ready() bool {
	if s.stopping.Load() {
		return false
	}
	now := time.Now()
	for _, c := range s.creds {
		if !c.servable(now) {
			return false
		}
	}
	return true
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
	for _, c := range s.creds {
		if c.refresher != nil {
			wg.Go(func() { _ = c.refresher.Run(refreshCtx) })
		}
	}
	if s.tls != nil {
		wg.Go(func() { s.tls.Run(refreshCtx) }) // picks up rotated files
	}

	// Each Serve closes its listener when it returns, which may be after
	// the stop below if it had not started yet: Run waits for all of them,
	// so that the addresses are free when it returns.
	errc := make(chan error, 3)
	var serving sync.WaitGroup
	serving.Go(func() { errc <- s.grpcSrv.Serve(s.grpcLn) })
	if s.adminSrv != nil {
		serving.Go(func() { errc <- s.adminSrv.Serve(s.adminLn) })
	}
	if s.httpSrv != nil {
		serving.Go(func() {
			if err := s.httpSrv.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	s.log.Info("extauthz serving", s.describeCredentials(), "grpc_addr", s.GRPCAddr(),
		"http_addr", s.HTTPAddr(), "admin_addr", s.AdminAddr(), "allowed_hosts", s.cfg.AllowedHosts,
		s.describeCallers())
	s.warnUnguarded()

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case err := <-errc:
		runErr = fmt.Errorf("server stopped: %w", err)
		s.log.Error("server failed, shutting down", "error", err)
	}
	s.healthM.Lock()
	s.stopping.Store(true)
	s.health.Shutdown() // NOT_SERVING for every service, and no more updates
	s.healthM.Unlock()

	if s.admin != nil {
		s.admin.Close() // ends watch streams, which would hold GracefulStop
	}
	stopped := make(chan struct{})
	go func() {
		s.grpcSrv.GracefulStop()
		if s.adminSrv != nil {
			s.adminSrv.GracefulStop()
		}
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(gracePeriod):
		s.log.Warn("graceful stop timed out, closing connections", "after", gracePeriod)
		s.grpcSrv.Stop()
		if s.adminSrv != nil {
			s.adminSrv.Stop()
		}
		<-stopped
	}
	if s.httpSrv != nil {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpStopTimeout)
		_ = s.httpSrv.Shutdown(hctx)
		cancel()
	}
	serving.Wait()
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

// CredentialHealthService is the grpc.health.v1 service name of one
// credential: SERVING while it is servable.
func CredentialHealthService(name string) string { return "extauthz.credential." + name }

// updateHealth sets grpc.health.v1 for each credential and, SERVING only
// when every credential is servable, for the whole server and the ext_authz
// service name. Refreshers report from their own goroutines; the lock keeps
// an older reading from overwriting a newer one.
func (s *Service) updateHealth() {
	s.healthM.Lock()
	defer s.healthM.Unlock()
	if s.stopping.Load() {
		return // Shutdown has set NOT_SERVING for good
	}
	now := time.Now()
	all := true
	for _, c := range s.creds {
		ok := c.servable(now)
		all = all && ok
		s.health.SetServingStatus(CredentialHealthService(c.cfg.Name), servingStatus(ok))
	}
	s.health.SetServingStatus("", servingStatus(all))
	s.health.SetServingStatus(authz.ServiceName, servingStatus(all))
}

func servingStatus(ok bool) healthpb.HealthCheckResponse_ServingStatus {
	if ok {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

func isOff(addr string) bool { return addr == "" || addr == "off" } // config lower-cases "off"
