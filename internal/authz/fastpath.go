package authz

import (
	"context"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
)

// checkMethod is the full gRPC method name, for interceptors.
const checkMethod = "/" + ServiceName + "/Check"

// Register registers s on g as envoy.service.auth.v3.Authorization with the
// fast Check handler: the request is scanned, not decoded (wireRequest), and
// an OK response is sent as bytes encoded once per credential generation
// (okAnswer). Decisions, headers, denials, metrics and logs are Check's: both
// paths share decide and the response builders.
//
// g must have been created with grpc.ForceServerCodecV2(NewCodec()); with
// another codec every Check fails with codes.Internal.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: ServiceName,
		HandlerType: (*authv3.AuthorizationServer)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Check", Handler: checkHandler}},
		Metadata:    authv3.File_envoy_service_auth_v3_external_auth_proto.Path(),
	}, s)
}

// checkHandler is the grpc.MethodDesc handler of the fast path.
func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*Server)
	if s.authorize != nil {
		if err := s.authorize(ctx); err != nil {
			return nil, err // the message is left undecoded
		}
	}
	r := wireRequests.Get().(*wireRequest)
	defer func() {
		r.release()
		wireRequests.Put(r)
	}()
	if err := dec(r); err != nil {
		return nil, err
	}
	if interceptor != nil {
		// Interceptors expect the generated types: give them those.
		req, err := r.typed()
		if err != nil {
			return nil, err
		}
		info := &grpc.UnaryServerInfo{Server: s, FullMethod: checkMethod}
		return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return s.checkTyped(ctx, req.(*authv3.CheckRequest)), nil
		})
	}
	return s.checkWire(ctx, r), nil
}

// checkWire is Check over a scanned request. It returns an *encodedResponse
// for an OK, a typed *CheckResponse for a denial (rare: built and encoded per
// request as on the typed path) or when the scan fell back to a full decode.
func (s *Server) checkWire(ctx context.Context, r *wireRequest) any {
	if r.full != nil {
		return s.checkTyped(ctx, r.full)
	}
	start := time.Now()
	v := s.decide(ctx, start, r)
	var resp any
	if v.allow != nil {
		resp = encodedAllow(v.allow, r)
	} else {
		resp = denyResponse(v.deny)
	}
	s.observe(v, start)
	return resp
}

// encodedAllow is the OK response of a for r: cached bytes, or in the
// unreachable case that encoding failed, the typed response.
func encodedAllow(a *okAnswer, r *wireRequest) any {
	if a.mode != ModeWIF {
		if a.plain != nil {
			return a.plain
		}
		return allowResponse(a.mode, a.credential, "", a.metadata)
	}
	var buf [256]byte // room for a typical merged anthropic-beta value
	beta := r.appendBeta(buf[:0])
	if e := a.withBeta(beta); e != nil {
		return e
	}
	return allowResponse(a.mode, a.credential, string(beta), a.metadata)
}
