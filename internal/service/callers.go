package service

import (
	"fmt"
	"log/slog"

	"extauthz/internal/callerauth"
	"extauthz/internal/config"
)

// setUpCallers loads the TLS files, if any, and builds the guard that
// authenticates the gRPC listener's callers (EXTAUTHZ_ALLOWED_CALLERS).
func (s *Service) setUpCallers(o Options) error {
	if s.cfg.TLSCertFile != "" {
		var err error
		s.tls, err = callerauth.LoadServerTLS(s.cfg.TLSFiles(), callerauth.TLSOptions{Logger: o.Logger, Observer: s.metrics})
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
	}
	var err error
	s.guard, err = callerauth.NewGuard(callerauth.Options{AllowList: s.cfg.Callers(), TLS: s.tls, Logger: o.Logger, Observer: s.metrics})
	if err != nil {
		return fmt.Errorf("caller authentication: %w", err)
	}
	return nil
}

// describeCallers is who may call Check, for the startup log line.
func (s *Service) describeCallers() slog.Attr {
	attrs := []any{slog.Bool("tls", s.tls != nil), slog.Bool("client_certificates", s.tls != nil && s.tls.VerifiesClients())}
	if s.cfg.Callers() != nil {
		attrs = append(attrs, slog.String("allowed", s.cfg.Callers().String()))
	} else {
		attrs = append(attrs, slog.String("allowed", "anyone who can connect"))
	}
	if s.tls != nil {
		c := s.tls.Certificate()
		attrs = append(attrs, slog.String("certificate_subject", c.Subject.String()), slog.Time("certificate_not_after", c.NotAfter))
	}
	return slog.Group("callers", attrs...)
}

// warnUnguarded logs the one WARN of design.md's "Caller authentication":
// on loopback TCP without client certificates or a caller list, every local
// process — in a sidecar, the workload itself — can call Check and take the
// credential.
func (s *Service) warnUnguarded() {
	if config.Loopback(s.cfg.GRPCAddr) && s.cfg.Callers() == nil && (s.tls == nil || !s.tls.VerifiesClients()) {
		s.log.Warn("EXTAUTHZ_GRPC_ADDR is loopback TCP and no caller check is configured: any local process can call Check and obtain the credential; "+
			"listen on unix:/path in a directory only Envoy and extauthz can enter (with EXTAUTHZ_ALLOWED_CALLERS=uid:…), or require client certificates",
			"grpc_addr", s.GRPCAddr())
	}
}
