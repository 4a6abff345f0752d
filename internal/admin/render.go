package admin

import (
	"math"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"extauthz/internal/secret"
	"extauthz/internal/tokens"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// maxTextLen bounds CleanText's result (the refresher bounds its errors
// already).
const maxTextLen = 1024

// render is c's state as the admin API shows it.
func render(c Credential) *adminv1.Credential {
	return credentialMessage(c.Name(), c.Info(), c.Status())
}

// credentialMessage builds the Credential message from a status. The token
// appears only as its fingerprint; the error text is scrubbed again here.
func credentialMessage(name string, info Info, st tokens.Status) *adminv1.Credential {
	m := &adminv1.Credential{
		Name:                name,
		Mode:                modeEnum(info.Mode),
		State:               stateOf(st),
		NextRefreshAt:       timestamp(st.NextAttempt),
		ConsecutiveFailures: uint32(min(max(st.ConsecutiveFailures, 0), math.MaxUint32)),
		LastError:           CleanText(st.LastError),
		FederationRuleId:    info.FederationRuleID,
		OrganizationId:      info.OrganizationID,
		ServiceAccountId:    info.ServiceAccountID,
		WorkspaceId:         info.WorkspaceID,
	}
	if t := st.Token; t != nil {
		m.TokenFingerprint = t.Value.Fingerprint()
		m.Generation = t.Generation
		m.IssuedAt = timestamp(t.Sent)
		m.ExpiresAt = timestamp(t.Expiry)
		m.ServableUntil = timestamp(t.Edge)
	}
	return m
}

// stateOf names st: no token; fresh (servable, no failure since the last
// success); stale but servable (servable while refreshes fail); expired (a
// token past its edge).
func stateOf(st tokens.Status) adminv1.CredentialState {
	switch {
	case st.Token == nil:
		return adminv1.CredentialState_CREDENTIAL_STATE_NO_TOKEN
	case !st.Ready:
		return adminv1.CredentialState_CREDENTIAL_STATE_EXPIRED
	case st.ConsecutiveFailures > 0:
		return adminv1.CredentialState_CREDENTIAL_STATE_STALE
	default:
		return adminv1.CredentialState_CREDENTIAL_STATE_FRESH
	}
}

func modeEnum(m Mode) adminv1.CredentialMode {
	switch m {
	case ModeStatic:
		return adminv1.CredentialMode_CREDENTIAL_MODE_STATIC
	case ModeGitHubOIDC:
		return adminv1.CredentialMode_CREDENTIAL_MODE_GITHUB_OIDC
	case ModeOIDCFile:
		return adminv1.CredentialMode_CREDENTIAL_MODE_OIDC_FILE
	}
	return adminv1.CredentialMode_CREDENTIAL_MODE_UNSPECIFIED
}

// timestamp is t as a Timestamp, or nil (absent) for the zero time.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// CleanText is text fit to show an operator: control characters (a
// terminal's escape sequences among them) become spaces, anything
// credential-shaped is masked (secret.Scrub), and it is bounded to 1 KiB at a
// character boundary. The server applies it to every error text it sends;
// clients apply it again to whatever text a server sent.
func CleanText(text string) string { return secret.CleanText(text, maxTextLen) }
