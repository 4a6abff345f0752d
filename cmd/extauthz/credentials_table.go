package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"extauthz/internal/admin"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// printCredentials writes one table row per credential, times relative to
// now ("in 7m12s", "2m ago"). Every text field is cleaned again: the server
// may be any admin API.
func printCredentials(w io.Writer, creds []*adminv1.Credential, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMODE\tSTATE\tFINGERPRINT\tGENERATION\tEXPIRES\tNEXT REFRESH\tFAILURES\tLAST ERROR")
	for _, c := range creds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n",
			orDash(admin.CleanText(c.GetName())), modeName(c.GetMode()), stateName(c.GetState()),
			orDash(admin.CleanText(c.GetTokenFingerprint())), c.GetGeneration(),
			relative(c.GetExpiresAt(), now), relative(c.GetNextRefreshAt(), now),
			c.GetConsecutiveFailures(), orDash(admin.CleanText(c.GetLastError())))
	}
	tw.Flush()
}

// servable reports whether the credential can be served now: fresh, or
// stale but servable.
func servable(c *adminv1.Credential) bool {
	s := c.GetState()
	return s == adminv1.CredentialState_CREDENTIAL_STATE_FRESH || s == adminv1.CredentialState_CREDENTIAL_STATE_STALE
}

func modeName(m adminv1.CredentialMode) string {
	switch m {
	case adminv1.CredentialMode_CREDENTIAL_MODE_STATIC:
		return "static"
	case adminv1.CredentialMode_CREDENTIAL_MODE_GITHUB_OIDC:
		return "github-oidc"
	case adminv1.CredentialMode_CREDENTIAL_MODE_OIDC_FILE:
		return "oidc-file"
	}
	return "unknown"
}

func stateName(s adminv1.CredentialState) string {
	switch s {
	case adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN:
		return "no-token"
	case adminv1.CredentialState_CREDENTIAL_STATE_FRESH:
		return "fresh"
	case adminv1.CredentialState_CREDENTIAL_STATE_STALE:
		return "stale" // still servable; refreshes are failing
	case adminv1.CredentialState_CREDENTIAL_STATE_EXPIRED:
		return "expired"
	}
	return "unknown"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// relative is ts relative to now: "in 7m12s", "2m ago", "now", or "-"
// without a time.
func relative(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	d := ts.AsTime().Sub(now).Round(time.Second)
	switch {
	case d == 0:
		return "now"
	case d > 0:
		return "in " + shortDuration(d)
	default:
		return shortDuration(-d) + " ago"
	}
}

// shortDuration is d, whole seconds, in at most two units: 42s, 7m12s, 3m,
// 1h5m, 26h.
func shortDuration(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case m > 0 && s > 0:
		return fmt.Sprintf("%dm%ds", m, s)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%ds", s)
}
