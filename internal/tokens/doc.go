// Package tokens obtains and keeps the federated access token that extauthz
// injects: three small layers, each behind a one-method, context-first
// interface declared here because the Refresher consumes them.
//
//  1. An IdentitySource yields a fresh OIDC JWT for every exchange: the GitHub
//     Actions mint (GitHubActions) or a projected token file (TokenFile).
//  2. An Exchanger turns that JWT into a Grant: the Anthropic Workload Identity
//     Federation token endpoint (AnthropicExchanger).
//  3. A Refresher owns every exchange for one credential in its own goroutine
//     and publishes each Token behind an atomic pointer that Check loads.
//
// A published Token is in one of three states, judged at the caller's now:
//
//   - fresh: before its scheduled refresh; nothing to do.
//   - stale but servable: a refresh is due or failing, and now < Edge; it is
//     still served while the Refresher keeps trying.
//   - invalid: now ≥ Edge (Expiry − min(30 s, L/10)); it is never served again.
//
// The package knows nothing of Envoy. Credentials travel as secret.Value and
// never appear in an error, log line or span.
package tokens
