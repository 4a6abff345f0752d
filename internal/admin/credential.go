package admin

import (
	"context"
	"errors"

	"extauthz/internal/config"
	"extauthz/internal/tokens"
)

// Credential is what the admin API needs of one configured credential.
type Credential interface {
	// Name is the credential's configured name ("default" for the single
	// credential); unique within a Server.
	Name() string
	// Info is the credential's mode and non-secret identifiers; fixed for the
	// credential's lifetime.
	Info() Info
	// Status is the credential's state now: its token (nil before the first),
	// failures, next attempt and last error. Cheap and non-blocking.
	Status() tokens.Status
	// RefreshNow runs one refresh attempt now (or joins the one under way),
	// waits for it and returns the status after it with the attempt's error.
	// ctx bounds only the wait. It returns tokens.ErrNotRunning when the
	// credential's refresher is not running, and ErrNotRefreshable for a
	// credential that has nothing to refresh.
	RefreshNow(ctx context.Context) (tokens.Status, error)
}

// Info is a credential's configuration as the admin API shows it: how it is
// obtained and the identifiers it is exchanged under. None of it is secret.
type Info struct {
	Mode             Mode   // how the credential is obtained
	FederationRuleID string // AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID; empty for a static key
	OrganizationID   string // AWF_AUTH_ANTHROPIC_ORGANIZATION_ID; empty for a static key
	ServiceAccountID string // AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID; empty for a static key
	WorkspaceID      string // AWF_AUTH_ANTHROPIC_WORKSPACE_ID; empty when unset
}

// Mode is how a credential is obtained: the effective AWF_AUTH_TYPE, so
// Mode(cfg.Type()) converts a config.Config's.
type Mode string

// The modes.
const (
	ModeStatic     Mode = config.TypeStaticKey  // ANTHROPIC_API_KEY
	ModeGitHubOIDC Mode = config.TypeGitHubOIDC // federated token, JWT minted by GitHub Actions
	ModeOIDCFile   Mode = config.TypeOIDCFile   // federated token, JWT read from a file
)

// ErrNotRefreshable is RefreshNow's error for a credential that has nothing
// to refresh (a static key). RefreshCredential answers FAILED_PRECONDITION.
var ErrNotRefreshable = errors.New("static keys do not refresh")
