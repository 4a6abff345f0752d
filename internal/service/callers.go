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
	if len(s.cfg.AllowedCallers) > 0 && s.cfg.Callers() == nil {
		// A Config that never went through Validate: refuse rather than let
		// anyone call.
		return fmt.Errorf("caller authentication: EXTAUTHZ_ALLOWED_CALLERS is set but not parsed (configuration not validated)")
	}
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
// credential. It also warns when client certificates are verified but no
// caller list narrows them: with SPIFFE, every workload of the trust
// domain holds one.
func (s *Service) warnUnguarded() {
	verified := s.tls != nil && s.tls.VerifiesClients()
	switch {
	case s.cfg.Callers() != nil:
	case config.Loopback(s.cfg.GRPCAddr) && !verified:
		s.log.Warn("EXTAUTHZ_GRPC_ADDR is loopback TCP and no caller check is configured: any local process can call Check and obtain the credential; "+
			"listen on unix:/path in a directory only Envoy and extauthz can enter (with EXTAUTHZ_ALLOWED_CALLERS=uid:…), or require client certificates",
			"grpc_addr", s.GRPCAddr())
	case verified:
		s.log.Warn("client certificates are verified but EXTAUTHZ_ALLOWED_CALLERS is empty: any certificate the CA bundle issued can call Check and obtain the credential; "+
			"name Envoy's certificate (spiffe://… or dns:…)", "grpc_addr", s.GRPCAddr())
	}
}
