package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
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

// exampleCredentials are the credentials the emulator knows when
// EXTAUTHZ_CREDENTIALS is unset, so that its printout shows a newcomer the
// several-credential variables too.
var exampleCredentials = []string{"team-a", "team-b"}

// emulatorCmd runs the local emulator of the GitHub Actions mint and
// Anthropic's token endpoint on its own, for the compose stack, where
// extauthz runs in real `serve` mode against it, and prints on stdout the
// variables that point `serve` (one credential or several) or an SDK at it.
// It stops on SIGTERM or SIGINT and returns exitOK.
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
AWF_AUTH_ANTHROPIC_ORGANIZATION_ID, AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID, AWF_AUTH_OIDC_AUDIENCE,
and for several credentials EXTAUTHZ_CREDENTIALS (default team-a,team-b) with each one's
EXTAUTHZ_<NAME>_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID.

It prints on stdout the variables to export for serve (one credential, then several) and for an
SDK. They include ACTIONS_ID_TOKEN_REQUEST_TOKEN, this emulator's own mint bearer: printing it is
the point, it is worthless anywhere else, and the logs on stderr show only its fingerprint.`)
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
		ServiceAccounts:  emulatorAccounts(get),
		Logger:           logger,
	})
	if problems := emulator.OptionErrors(err); len(problems) > 0 {
		for _, p := range problems {
			reason := p.Reason
			if errors.Is(p, emulator.ErrNotLoopback) {
				reason = fmt.Sprintf("%q is not a loopback address (pass -allow-non-loopback to permit it)", addr)
			}
			fmt.Fprintf(stderr, "extauthz: configuration: %s: %s\n", emulatorVar(p.Field), reason)
		}
		return exitUsage
	}
	if err != nil {
		logger.Error("cannot start the local emulator", "error", err)
		return exitFailed
	}
	// One write, so that a reader that sees the URL sees the exports too.
	var banner bytes.Buffer
	fmt.Fprintf(&banner, "extauthz emulator: LOCAL EMULATOR of the GitHub Actions OIDC mint and Anthropic's token endpoint on %s (tokens are worthless elsewhere)\n", emu.URL())
	printExports(&banner, emu, get("ACTIONS_ID_TOKEN_REQUEST_TOKEN") != "")
	stdout.Write(banner.Bytes())
	<-ctx.Done()
	if err := emu.Close(); err != nil {
		logger.Error("closing the local emulator", "error", err)
		return exitFailed
	}
	return exitOK
}

// emulatorAccounts are the service accounts of several credentials: one per
// name in EXTAUTHZ_CREDENTIALS (exampleCredentials when unset), each its
// prefixed EXTAUTHZ_<NAME>_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID or random.
func emulatorAccounts(get func(string) string) map[string]string {
	names := exampleCredentials
	if list := get("EXTAUTHZ_CREDENTIALS"); list != "" {
		names = nil
		for name := range strings.SplitSeq(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, name)
			}
		}
	}
	accounts := make(map[string]string, len(names))
	for _, name := range names {
		accounts[name] = get(emulator.CredentialPrefix(name) + "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID")
	}
	return accounts
}

// emulatorVar names the variable or flag behind an emulator option.
func emulatorVar(field string) string {
	if name, ok := strings.CutPrefix(field, "ServiceAccounts."); ok {
		return emulator.CredentialPrefix(name) + "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"
	}
	if field == "ServiceAccounts" {
		return "EXTAUTHZ_CREDENTIALS"
	}
	return emulatorVars[field]
}

// printExports writes, as shell export lines, what a newcomer sets to point
// `extauthz serve` at the emulator (with one credential, then several) and
// what an Anthropic SDK that does the exchange itself would read. This is the
// one place the request token is printed: stdout, for the person who started
// the emulator; the logs carry only its fingerprint. A request token that
// came from the environment (givenToken) is never printed: in a GitHub
// Actions job with id-token: write that variable holds the job's real one.
func printExports(w io.Writer, emu *emulator.Emulator, givenToken bool) {
	one, several := emu.Env(), emu.CredentialsEnv()
	if givenToken {
		for _, env := range []map[string]string{one, several} {
			env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = fromEnvironment
		}
	}
	fmt.Fprintln(w, "\n# extauthz serve with one credential:")
	writeExports(w, one)
	fmt.Fprintf(w, "\n# or with %d credentials, each exchanging for its own service account (select one per route with\n", len(strings.Split(several["EXTAUTHZ_CREDENTIALS"], ",")))
	fmt.Fprintln(w, "# ExtAuthzPerRoute context_extensions credential: NAME, as envoy/sidecar-two-credentials.yaml does):")
	writeExports(w, several)
	fmt.Fprintln(w, "\n# An Anthropic SDK doing the exchange itself: mint a JWT (curl -H \"Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN\"")
	fmt.Fprintln(w, "# \"$ACTIONS_ID_TOKEN_REQUEST_URL&audience=$AWF_AUTH_OIDC_AUDIENCE\" gives {\"value\": JWT}; each is good for one exchange),")
	fmt.Fprintln(w, "# write it to a file named by ANTHROPIC_IDENTITY_TOKEN_FILE, and set (only /v1/oauth/token answers at this base URL):")
	writeExports(w, map[string]string{
		"ANTHROPIC_BASE_URL":           emu.URL(),
		"ANTHROPIC_FEDERATION_RULE_ID": one["AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID"],
		"ANTHROPIC_ORGANIZATION_ID":    one["AWF_AUTH_ANTHROPIC_ORGANIZATION_ID"],
		"ANTHROPIC_SERVICE_ACCOUNT_ID": one["AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"],
	})
	if givenToken {
		fmt.Fprintln(w, "\n# ACTIONS_ID_TOKEN_REQUEST_TOKEN is the one in your environment, which the emulator took as its mint bearer; it is not printed.")
		return
	}
	fmt.Fprintln(w, "\n# ACTIONS_ID_TOKEN_REQUEST_TOKEN is this emulator's mint bearer, printed only here (its logs show a fingerprint).")
}

// fromEnvironment marks an export whose value stays the shell's own.
const fromEnvironment = "\x00from the environment"

// writeExports writes env as sorted `export NAME='value'` lines, each value
// quoted for a POSIX shell.
func writeExports(w io.Writer, env map[string]string) {
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if env[name] == fromEnvironment {
			fmt.Fprintf(w, "export %s=\"$%s\"  # as in your environment\n", name, name)
			continue
		}
		fmt.Fprintf(w, "export %s='%s'\n", name, strings.ReplaceAll(env[name], "'", `'\''`))
	}
}

// toolLogger is the logger of the helper commands (emulator, echo): JSON
// like serve's unless EXTAUTHZ_LOG_FORMAT says text, at EXTAUTHZ_LOG_LEVEL
// (info when unset or unknown).
func toolLogger(w io.Writer, lookup env) *slog.Logger {
	level, _ := lookup.Lookup("EXTAUTHZ_LOG_LEVEL")
	format, _ := lookup.Lookup("EXTAUTHZ_LOG_FORMAT")
	return telemetry.NewLogger(w, strings.ToLower(strings.TrimSpace(level)), strings.ToLower(strings.TrimSpace(format)))
}
