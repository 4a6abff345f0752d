package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"extauthz/internal/admin"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// statusCmd prints the admin API's view of every credential and exits 0 iff
// all are servable (fresh, or stale but servable).
func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	return showStatus(ctx, args, stdout, stderr, lookup, time.Now)
}

// showStatus is statusCmd with a clock for the relative times.
func showStatus(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env, now func() time.Time) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := adminFlags(fs, 5*time.Second, "deadline for the call")
	asJSON := fs.Bool("json", false, "print the ListCredentials response as JSON (proto field names) instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: extauthz status [flags]\n\nShows every credential's state; exits 0 iff all are servable.")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	c, target, ctx, done, code := openAdmin(ctx, "status", flags, lookup, stderr)
	if code != exitOK {
		return code
	}
	defer done()
	resp, err := c.ListCredentials(ctx, &adminv1.ListCredentialsRequest{})
	if err != nil {
		fmt.Fprintf(stderr, "extauthz status: %s: %s\n", target, callError(err))
		return exitFailed
	}
	if *asJSON {
		if err := printJSON(stdout, resp); err != nil {
			fmt.Fprintf(stderr, "extauthz status: %v\n", err)
			return exitFailed
		}
	} else {
		printCredentials(stdout, resp.GetCredentials(), now())
	}
	creds := resp.GetCredentials()
	if len(creds) == 0 {
		fmt.Fprintln(stderr, "extauthz status: the admin API lists no credential")
		return exitFailed
	}
	for _, cred := range creds {
		if !servable(cred) {
			return exitFailed
		}
	}
	return exitOK
}

// printJSON writes resp as indented protojson with the .proto field names
// and every field present (absent times as null), after cleaning its text
// fields as the table does.
func printJSON(w io.Writer, resp *adminv1.ListCredentialsResponse) error {
	for _, c := range resp.GetCredentials() {
		c.Name, c.TokenFingerprint, c.LastError = admin.CleanText(c.GetName()), admin.CleanText(c.GetTokenFingerprint()), admin.CleanText(c.GetLastError())
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(resp)
	if err != nil {
		return err
	}
	// protojson varies its whitespace on purpose; Indent makes it stable.
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(w)
	return err
}
