package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"extauthz/internal/config"
	"extauthz/internal/service"
	"extauthz/internal/telemetry"
)

// serve runs the service configured by the environment until SIGTERM or
// SIGINT, then shuts down gracefully and returns exitOK.
func serve(ctx context.Context, args []string, stderr io.Writer, lookup env) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: extauthz serve\n\nConfigured by the environment; see the README's configuration table.")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, code := loadConfig(ctx, stderr, lookup)
	if cfg == nil {
		return code
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	return runService(ctx, cfg, stderr, lookup)
}

// loadConfig reads and validates the configuration; on failure it prints one
// line per problem, naming the variable, and returns exitUsage.
func loadConfig(ctx context.Context, stderr io.Writer, lookup env) (*config.Config, int) {
	cfg, err := config.Load(ctx, lookup)
	if err != nil {
		problems := config.Problems(err)
		if len(problems) == 0 {
			fmt.Fprintf(stderr, "extauthz: configuration: %v\n", err)
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "extauthz: configuration: %v\n", p)
		}
		return nil, exitUsage
	}
	return cfg, exitOK
}

// runService builds and runs the service until ctx ends.
func runService(ctx context.Context, cfg *config.Config, stderr io.Writer, lookup env) int {
	logger := telemetry.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	svc, err := service.New(ctx, cfg, service.Options{Logger: logger, Version: version(), Lookup: lookup})
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitFailed
	}
	if err := svc.Listen(); err != nil {
		logger.Error("cannot listen", "error", err)
		return exitFailed
	}
	if err := svc.Run(ctx); err != nil {
		logger.Error("stopped with an error", "error", err)
		return exitFailed
	}
	return exitOK
}
