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
//     refreshes are visible.
//
// Nothing here is a real identity provider or a real Anthropic endpoint, and
// the tokens it mints are worthless anywhere else. It exists so that a
// newcomer can run the whole service with nothing but Go and no network
// (`extauthz dev`), and so that end-to-end tests have something to exchange
// against. It is linked only from the dev (and emulator) subcommands and from
// tests, never from the serve path; it listens on loopback unless told
// otherwise.
package emulator
