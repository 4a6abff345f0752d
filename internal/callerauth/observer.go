package callerauth

// Observer is told of the events that metrics count. Its methods must be
// cheap and must not block: they run on handshakes and on the Check path.
type Observer interface {
	// CallerRejected: Authorize refused a caller
	// (extauthz_callers_rejected_total).
	CallerRejected()
	// TLSReloadFailed: changed TLS files could not be used and the previous
	// material stays (extauthz_tls_reload_failures_total).
	TLSReloadFailed()
	// HandshakeFailed: a TLS handshake failed (a client without a
	// certificate, with one from another CA, speaking plaintext, garbage).
	// A client that closes before sending a byte is not counted.
	HandshakeFailed()
}

// nopObserver stands in for a nil Observer.
type nopObserver struct{}

func (nopObserver) CallerRejected()  {}
func (nopObserver) TLSReloadFailed() {}
func (nopObserver) HandshakeFailed() {}
