package authz

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"extauthz/internal/secret"
)

// quietLogger is an INFO logger that discards, as in production, so the
// benchmarks measure Check and not DEBUG formatting.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(leakWatch{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func BenchmarkCheck(b *testing.B) {
	cases := []struct {
		name, request string
		o             Options
	}{
		{"wif", "basic", Options{Credentials: single(ModeWIF, servable(testToken))}},
		{"wif_client_beta", "client_beta", Options{Credentials: single(ModeWIF, servable(testToken))}},
		{"wif_allowed_hosts", "host_port", Options{Credentials: single(ModeWIF, servable(testToken)), AllowedHosts: anthropicOnly}},
		{"static_key", "basic", Options{Credentials: single(ModeStaticKey, StaticKey(secret.New(testKey)))}},
		{"unavailable", "basic", Options{Credentials: single(ModeWIF, notServable(time.Second))}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.o.Logger = quietLogger()
			s := newTestServer(b, c.o)
			req := loadRequest(b, c.request)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAllowResponse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		allowResponse(ModeWIF, testToken, oauthBeta, testMetadata)
	}
}

func BenchmarkMergeBeta(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		mergeBeta(" extended-cache-ttl-2025-04-11, oidc-federation-2026-04-01,,oauth-2025-04-20 ", "client-beta")
	}
}
