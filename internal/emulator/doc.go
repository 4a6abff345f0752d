// Package emulator is a LOCAL EMULATOR for development and tests: an
// in-process, loopback-only stand-in for two services that extauthz talks to
// in production.
//
//   - The GitHub Actions OIDC mint API (GET /_apis/oidc/token) and an OIDC
//     issuer (discovery document and JWKS). It mints ES256-signed identity
//     JWTs with a kid and a random jti, shaped like GitHub's.
//   - Anthropic's Workload Identity Federation token endpoint
//     (POST /v1/oauth/token). It checks the request and the assertion the way
//     the real endpoint documents — body fields, beta flags, signature against
//     the JWKS key named by kid, iss, aud, sub, iat, exp with 30 s leeway,
//     exp − iat ≤ 1 h, single-use jti, 16 KiB assertion cap — and mints
//     sk-ant-oat01-… tokens with a deliberately short lifetime so that
//     refreshes are visible. It knows one service account per credential
//     (Options.ServiceAccountID, Options.ServiceAccounts), so several
//     extauthz credentials exchange for different accounts, and
//     ServiceAccountOf says which account a token was minted for.
//
// Env and CredentialsEnv are the variables that point `extauthz serve` at it
// with one credential or several; `extauthz emulator` prints them on stdout
// for a newcomer to export. They include the mint endpoint's request token
// (ACTIONS_ID_TOKEN_REQUEST_TOKEN): a secret of this emulator alone, printed
// on purpose there and nowhere else. The emulator's logs show only its
// fingerprint, like every token and JWT.
//
// Nothing here is a real identity provider or a real Anthropic endpoint, and
// the tokens it mints are worthless anywhere else. It exists so that a
// newcomer can run the whole service with nothing but Go and no network
// (`extauthz dev`), and so that end-to-end tests have something to exchange
// against. It is linked only from the dev (and emulator) subcommands and from
// tests, never from the serve path; it listens on loopback unless told
// otherwise.
package emulator
