// Package admin serves the admin API, extauthz.admin.v1.AdminService: what
// each configured credential holds (never the credential itself), how its
// refresh is going, a way to refresh one now, and a stream of changes.
//
// The server reads credentials through the Credential interface it declares;
// FromRefresher and StaticKey adapt the service's two kinds. The service
// calls Notify (or hands Changes.Observer to each refresher) on every status
// change; Notify never blocks, and each watcher re-reads the latest state at
// its own pace, so a slow watcher never slows a refresher.
//
// Nothing the package returns or logs carries a token, JWT or key: tokens and
// keys appear as fingerprints, and error text is scrubbed again here, at the
// API's boundary, however clean it already was.
package admin
