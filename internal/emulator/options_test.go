package emulator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"extauthz/internal/secret"
)

// TestGivenIdentityIsUsed: a compose stack gives the emulator and extauthz
// the same identity; the emulator must then accept exactly that identity.
func TestGivenIdentityIsUsed(t *testing.T) {
	const (
		token = "local-dev-request-token"
		rule  = "fdrl_localdev"
		org   = "00000000-0000-4000-8000-000000000000"
		svac  = "svac_localdev"
	)
	te := startEmulator(t, Options{
		RequestToken: secret.New(token), FederationRuleID: rule, OrganizationID: org, ServiceAccountID: svac,
	})
	env := te.Env()
	for k, want := range map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN":        token,
		"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID": rule,
		"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID":    org,
		"AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID": svac,
	} {
		if env[k] != want {
			t.Errorf("Env()[%s] = %q, want %q", k, env[k], want)
		}
	}
	// The round trip an extauthz configured with the same values makes.
	if tr := te.exchange(t, te.mint(t, "https://api.anthropic.com")); !te.Valid(tr.AccessToken) {
		t.Error("the exchange with the given identity did not mint a valid token")
	}
}

func TestUnusableOptionsAreAllReported(t *testing.T) {
	_, err := Start(context.Background(), Options{
		Addr:             "0.0.0.0:0",
		TokenLifetime:    time.Millisecond,
		Audience:         "aud\nience",
		RequestToken:     secret.New("tok\r\nen"),
		FederationRuleID: "rule_1",
		OrganizationID:   "not-a-uuid",
		ServiceAccountID: "svac_with-dash",
		Logger:           discardLogger(),
	})
	var fields []string
	for _, oe := range OptionErrors(err) {
		fields = append(fields, oe.Field)
	}
	want := []string{"Addr", "TokenLifetime", "Audience", "RequestToken", "FederationRuleID", "OrganizationID", "ServiceAccountID"}
	if !slices.Equal(fields, want) {
		t.Errorf("OptionErrors name %q, want %q", fields, want)
	}
	if _, ok := errors.AsType[*OptionError](err); !ok {
		t.Errorf("%v is not an *OptionError", err)
	}
	if !errors.Is(err, ErrNotLoopback) {
		t.Errorf("%v does not wrap ErrNotLoopback", err)
	}
	if strings.Contains(err.Error(), "tok\r\nen") {
		t.Error("the error holds the request token")
	}
}

func TestOptionErrorsOfOtherErrors(t *testing.T) {
	if got := OptionErrors(nil); got != nil {
		t.Errorf("OptionErrors(nil) = %v", got)
	}
	if got := OptionErrors(ErrNotLoopback); got != nil {
		t.Errorf("OptionErrors(ErrNotLoopback) = %v", got)
	}
}
