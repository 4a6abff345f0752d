// Command extauthz is an Envoy external-authorization service that replaces a
// workload's Anthropic API key with a short-lived Workload Identity Federation
// token. See the README for the commands and their configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"extauthz/internal/config"
)

// Exit codes shared by the subcommands.
const (
	exitOK     = 0
	exitFailed = 1 // a runtime failure, a denial, or NOT_SERVING
	exitUsage  = 2 // bad configuration or command line
)

const usage = `usage: extauthz [command] [flags]

commands:
  serve     run the service, configured by the environment (the default)
  dev       run the service against an in-process local emulator (no accounts needed)
  check     send an Envoy-shaped CheckRequest and print the decision
  health    exit 0 iff grpc.health.v1 reports SERVING
  status    show every credential's state from the admin API; exit 0 iff all are servable
  refresh   refresh one credential now through the admin API: extauthz refresh NAME
  emulator  run the local emulator alone (for the compose stack; never a real identity provider)
  echo      an HTTP upstream that answers with the headers it received (credentials as fingerprints)

Run 'extauthz <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, config.OSEnv()))
}

// env is how the commands read the environment (config.OSEnv, or a map in tests).
type env = config.Env

// run dispatches to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr, lookup)
	case "dev":
		return dev(ctx, args, stdout, stderr, lookup)
	case "check":
		return check(ctx, args, stdout, stderr, lookup)
	case "health":
		return healthCmd(ctx, args, stdout, stderr, lookup)
	case "status":
		return statusCmd(ctx, args, stdout, stderr, lookup)
	case "refresh":
		return refreshCmd(ctx, args, stdout, stderr, lookup)
	case "emulator":
		return emulatorCmd(ctx, args, stdout, stderr, lookup)
	case "echo":
		return echoCmd(ctx, args, stdout, stderr, lookup)
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "extauthz: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// version is the module version from the build info, or "dev".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// parseFlags parses a command's flags and refuses positional arguments,
// which no command takes. On false the command exits with exitUsage: the flag
// package has printed the problem, or this has named the stray argument.
func parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "extauthz %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return false
	}
	return true
}
