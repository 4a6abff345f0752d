package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"extauthz/internal/emulator"
	"extauthz/internal/secret"
	"extauthz/internal/telemetry"
)

// emulatorVars names, for each emulator option the command sets, where it
// came from: an environment variable (the ones `serve` reads, so that one
// compose anchor configures both) or a flag.
var emulatorVars = map[string]string{
	"Addr":             "EXTAUTHZ_EMULATOR_ADDR",
	"TokenLifetime":    "-token-lifetime",
	"Audience":         "AWF_AUTH_OIDC_AUDIENCE",
	"RequestToken":     "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
	"FederationRuleID": "AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID",
	"OrganizationID":   "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID",
	"ServiceAccountID": "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID",
}

// emulatorCmd runs the local emulator of the GitHub Actions mint and
// Anthropic's token endpoint on its own, for the compose stack, where
// extauthz runs in real `serve` mode against it. It stops on SIGTERM or
// SIGINT and returns exitOK.
func emulatorCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lifetime := fs.Duration("token-lifetime", 20*time.Second,
		"lifetime of the access tokens it mints (short, so refreshes are visible)")
	allowNonLoopback := fs.Bool("allow-non-loopback", false,
		"permit a non-loopback EXTAUTHZ_EMULATOR_ADDR (the tokens it mints are worthless, but anyone who reaches it can mint them)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: extauthz emulator [flags]

Runs the LOCAL EMULATOR alone on EXTAUTHZ_EMULATOR_ADDR (default 127.0.0.1:8080). Its identity
comes from the variables serve reads (each random or default when unset):
ACTIONS_ID_TOKEN_REQUEST_TOKEN, AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID,
AWF_AUTH_ANTHROPIC_ORGANIZATION_ID, AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID, AWF_AUTH_OIDC_AUDIENCE.`)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	get := func(name string) string { v, _ := lookup.Lookup(name); return strings.TrimSpace(v) }
	addr := get("EXTAUTHZ_EMULATOR_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := toolLogger(stderr, lookup)
	emu, err := emulator.Start(ctx, emulator.Options{
		Addr:             addr,
		AllowNonLoopback: *allowNonLoopback,
		TokenLifetime:    *lifetime,
		Audience:         get("AWF_AUTH_OIDC_AUDIENCE"),
		RequestToken:     secret.New(get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")),
		FederationRuleID: get("AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"),
		OrganizationID:   get("AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"),
		ServiceAccountID: get("AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"),
		Logger:           logger,
	})
	if problems := emulator.OptionErrors(err); len(problems) > 0 {
		for _, p := range problems {
			reason := p.Reason
			if errors.Is(p, emulator.ErrNotLoopback) {
				reason = fmt.Sprintf("%q is not a loopback address (pass -allow-non-loopback to permit it)", addr)
			}
			fmt.Fprintf(stderr, "extauthz: configuration: %s: %s\n", emulatorVars[p.Field], reason)
		}
		return exitUsage
	}
	if err != nil {
		logger.Error("cannot start the local emulator", "error", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "extauthz emulator: LOCAL EMULATOR of the GitHub Actions OIDC mint and Anthropic's token endpoint on %s (tokens are worthless elsewhere)\n", emu.URL())
	<-ctx.Done()
	if err := emu.Close(); err != nil {
		logger.Error("closing the local emulator", "error", err)
		return exitFailed
	}
	return exitOK
}

// toolLogger is the logger of the helper commands (emulator, echo): JSON
// like serve's unless EXTAUTHZ_LOG_FORMAT says text, at EXTAUTHZ_LOG_LEVEL
// (info when unset or unknown).
func toolLogger(w io.Writer, lookup env) *slog.Logger {
	level, _ := lookup.Lookup("EXTAUTHZ_LOG_LEVEL")
	format, _ := lookup.Lookup("EXTAUTHZ_LOG_FORMAT")
	return telemetry.NewLogger(w, strings.ToLower(strings.TrimSpace(level)), strings.ToLower(strings.TrimSpace(format)))
}
