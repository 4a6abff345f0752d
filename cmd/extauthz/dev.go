package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"extauthz/internal/config"
	"extauthz/internal/emulator"
	"extauthz/internal/telemetry"
)

// dev runs the service in github-oidc mode against an in-process local
// emulator of the GitHub Actions mint and Anthropic's token endpoint, both on
// loopback. Only EXTAUTHZ_* and OTEL_* variables pass through from the
// environment, and none that configures a credential
// (config.CredentialVariable: a developer's real EXTAUTHZ_<NAME>_… settings
// must not reach a real mint or token endpoint from dev); the credentials
// and endpoints are the emulator's.
func dev(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lifetime := fs.Duration("token-lifetime", 20*time.Second,
		"lifetime of the emulator's access tokens (short, so refreshes are visible)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: extauthz dev [flags]\n\nRuns extauthz against a local emulator; no account, key or network needed.")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	if *lifetime < 2*time.Second {
		fmt.Fprintln(stderr, "extauthz dev: -token-lifetime must be at least 2s")
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	level, _ := lookup.Lookup("EXTAUTHZ_LOG_LEVEL")
	format, _ := lookup.Lookup("EXTAUTHZ_LOG_FORMAT")
	if strings.TrimSpace(format) == "" {
		format = "text" // a terminal is reading
	}
	logger := telemetry.NewLogger(stderr, strings.ToLower(strings.TrimSpace(level)), strings.ToLower(strings.TrimSpace(format)))

	emu, err := emulator.Start(ctx, emulator.Options{TokenLifetime: *lifetime, Logger: logger})
	if err != nil {
		logger.Error("cannot start the local emulator", "error", err)
		return exitFailed
	}
	defer emu.Close()
	logger.Warn("LOCAL EMULATOR: extauthz dev mints fake identity and access tokens on loopback; nothing here reaches Anthropic",
		"emulator_url", emu.URL(), "token_lifetime", lifetime.String())

	devEnv := emu.Env()
	devEnv["EXTAUTHZ_LOG_FORMAT"] = format
	cfg, code := loadConfig(ctx, stderr, lookup.With(devEnv, func(k string) bool {
		return (strings.HasPrefix(k, "EXTAUTHZ_") || strings.HasPrefix(k, "OTEL_")) && !config.CredentialVariable(k)
	}))
	if cfg == nil {
		return code
	}
	fmt.Fprintf(stdout, "extauthz dev: serving ext_authz on %s; in another terminal run:\n  go run ./cmd/extauthz check\n", cfg.GRPCAddr)
	return runService(ctx, cfg, stderr, lookup)
}
