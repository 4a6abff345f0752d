package admin

import (
	"context"

	"extauthz/internal/secret"
	"extauthz/internal/tokens"
)

// FromRefresher is the credential that r keeps fresh, named name with info
// (whose Mode is ModeGitHubOIDC or ModeOIDCFile).
func FromRefresher(name string, info Info, r *tokens.Refresher) Credential {
	return refresherCredential{name: name, info: info, r: r}
}

type refresherCredential struct {
	name string
	info Info
	r    *tokens.Refresher
}

func (c refresherCredential) Name() string          { return c.name }
func (c refresherCredential) Info() Info            { return c.info }
func (c refresherCredential) Status() tokens.Status { return c.r.Status() }
func (c refresherCredential) RefreshNow(ctx context.Context) (tokens.Status, error) {
	return c.r.RefreshNow(ctx)
}

// StaticKey is the credential of static-key mode: always fresh, generation
// 1, shown by the key's fingerprint, with nothing to refresh.
func StaticKey(name string, key secret.Value) Credential {
	return staticKey{name: name, status: tokens.Status{Ready: true, Token: &tokens.Token{Value: key, Generation: 1}}}
}

type staticKey struct {
	name   string
	status tokens.Status
}

func (k staticKey) Name() string          { return k.name }
func (k staticKey) Info() Info            { return Info{Mode: ModeStatic} }
func (k staticKey) Status() tokens.Status { return k.status }
func (k staticKey) RefreshNow(context.Context) (tokens.Status, error) {
	return k.status, ErrNotRefreshable
}
