package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// refreshCmd asks the admin API to refresh one credential now, prints its
// state after the attempt and exits 0 on success; 1 when the server refuses
// (NOT_FOUND, RESOURCE_EXHAUSTED, FAILED_PRECONDITION) or the attempt fails
// (UNAVAILABLE).
func refreshCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	return requestRefresh(ctx, args, stdout, stderr, lookup, time.Now)
}

// requestRefresh is refreshCmd with a clock for the relative times.
func requestRefresh(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env, now func() time.Time) int {
	fs := flag.NewFlagSet("refresh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := adminFlags(fs, 15*time.Second, "deadline for the call (an attempt has a 10s budget of its own and goes on if the call gives up)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: extauthz refresh NAME [flags]\n\nRefreshes the credential NAME now and prints its new state.")
		fs.PrintDefaults()
	}
	name, ok := parseName(fs, args)
	if !ok {
		return exitUsage
	}
	c, _, ctx, done, code := openAdmin(ctx, "refresh", flags, lookup, stderr)
	if code != exitOK {
		return code
	}
	defer done()
	// The name is not echoed here: it may be anything, a pasted token too.
	// The server quotes only well-formed names.
	resp, err := c.RefreshCredential(ctx, &adminv1.RefreshCredentialRequest{Name: name})
	if err != nil {
		fmt.Fprintf(stderr, "extauthz refresh: %s\n", callError(err))
		return exitFailed
	}
	printCredentials(stdout, []*adminv1.Credential{resp.GetCredential()}, now())
	return exitOK
}

// parseName parses a command's flags around its one positional argument
// (NAME before, after or between flags). On false the command exits with
// exitUsage: the problem has been printed.
func parseName(fs *flag.FlagSet, args []string) (string, bool) {
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(fs.Output(), "extauthz %s: missing the credential NAME\n", fs.Name())
		fs.Usage()
		return "", false
	}
	name := fs.Arg(0)
	if !parseFlags(fs, fs.Args()[1:]) {
		return "", false
	}
	return name, true
}
