package admin

import (
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// GRPCServer builds the admin listener's gRPC server: the AdminService,
// grpc.reflection (v1, and v1alpha for older clients such as some grpcurl
// builds), and grpc.health.v1, SERVING for "" and
// extauthz.admin.v1.AdminService until Close. opts carry the transport
// credentials (the gRPC listener's TLS settings) and limits. Call it once.
func (s *Server) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	g := grpc.NewServer(opts...)
	s.Register(g)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(adminv1.AdminService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
	return g
}
