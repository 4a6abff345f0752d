package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthCmd asks grpc.health.v1 for the service's status and exits 0 iff it
// is SERVING: a container health check for images without curl.
func healthCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr(lookup), "extauthz gRPC address (host:port or unix:/path)")
	service := fs.String("service", "", `service name to ask about ("" is the whole server)`)
	timeout := fs.Duration("timeout", 2*time.Second, "deadline for the call")
	var tf tlsFlags
	tf.register(fs)
	if !parseFlags(fs, args) {
		return exitUsage
	}
	tc, err := tf.config()
	if err != nil {
		printProblems(stderr, "health", err)
		return exitUsage
	}
	conn, err := dialTLS(*addr, tc)
	if err != nil {
		fmt.Fprintf(stderr, "extauthz health: %v\n", err)
		return exitFailed
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: *service})
	if err != nil {
		fmt.Fprintf(stderr, "extauthz health: %s: %v\n", *addr, err)
		return exitFailed
	}
	fmt.Fprintln(stdout, resp.GetStatus())
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return exitFailed
	}
	return exitOK
}

// defaultAddr is EXTAUTHZ_GRPC_ADDR or 127.0.0.1:9191.
func defaultAddr(lookup env) string {
	if v, ok := lookup.Lookup("EXTAUTHZ_GRPC_ADDR"); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return "127.0.0.1:9191"
}

// dial connects (lazily) to host:port or unix:/path without TLS: extauthz
// listens on loopback or a unix socket beside Envoy.
func dial(addr string) (*grpc.ClientConn, error) {
	return dialTLS(addr, nil)
}

// dialTLS connects (lazily) to host:port or unix:/path, with TLS when tc is
// not nil (from tlsFlags.config). A wildcard listen address (0.0.0.0:9191,
// [::]:9191, :9191 — what a container sets so others can reach it) is
// dialled on loopback.
func dialTLS(addr string, tc *tls.Config) (*grpc.ClientConn, error) {
	target := addr
	if !strings.HasPrefix(addr, "unix:") {
		if host, port, err := net.SplitHostPort(addr); err == nil {
			if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
		}
		target = "passthrough:///" + addr
	}
	creds := insecure.NewCredentials()
	if tc != nil {
		creds = credentials.NewTLS(tc)
	}
	return grpc.NewClient(target, grpc.WithTransportCredentials(creds))
}
