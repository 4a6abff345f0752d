package service

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"extauthz/internal/admin"
	"extauthz/internal/callerauth"
)

// newAdminServer builds the admin API (extauthz.admin.v1) over the
// service's credentials, for EXTAUTHZ_ADMIN_ADDR. It hands out no secret:
// states, fingerprints and the non-secret identifiers; a refresh per
// credential per 5 s.
func (s *Service) newAdminServer(o Options) error {
	var creds []admin.Credential
	for _, c := range s.creds {
		if c.refresher == nil {
			creds = append(creds, admin.StaticKey(c.cfg.Name, c.cfg.APIKey))
			continue
		}
		creds = append(creds, admin.FromRefresher(c.cfg.Name, admin.Info{
			Mode:             admin.Mode(c.cfg.Type()),
			FederationRuleID: c.cfg.FederationRuleID,
			OrganizationID:   c.cfg.OrganizationID,
			ServiceAccountID: c.cfg.ServiceAccountID,
			WorkspaceID:      c.cfg.WorkspaceID,
		}, c.refresher))
	}
	var err error
	s.admin, err = admin.NewServer(admin.Options{Credentials: creds, Changes: &s.changes, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	// The admin listener speaks the gRPC listener's TLS (client
	// certificates required when a client CA is set), without its caller
	// list, which names Envoy: operators' tools call the admin API.
	guard, err := callerauth.NewGuard(callerauth.Options{TLS: s.tls, Logger: o.Logger, Observer: s.metrics})
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	s.adminSrv = s.admin.GRPCServer(append(adminServerOptions(), grpc.Creds(guard.TransportCredentials()))...)
	return nil
}

// adminServerOptions bound the admin listener: its requests are a name at
// most, and an operator's tool needs no more than a few streams.
func adminServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(64 << 10),
		grpc.MaxConcurrentStreams(64),
		grpc.MaxHeaderListSize(maxHeaderListSize),
		grpc.ConnectionTimeout(connectionTimeout),
		grpc.ChainStreamInterceptor(newStreamLimit(maxAuxStreams, "").intercept), // watches of all kinds
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second, MaxConnectionIdle: maxConnectionIdle}),
	}
}
