package feedback

// Why an entry was ignored: the values Observer.EntryIgnored receives. The
// set is closed; an entry is counted under the first reason that applies,
// in the order below.
const (
	// ReasonUndecodable counts a message that could not be decoded, which
	// ends its stream (grpc answers Internal). It counts one per message,
	// since its entries cannot be told apart.
	ReasonUndecodable = "undecodable_message"
	// ReasonTooLarge counts a message over the gRPC server's receive limit,
	// which ends its stream (grpc answers ResourceExhausted): Envoy's
	// batches (buffer_size_bytes) must stay well below that limit. One per
	// message.
	ReasonTooLarge = "message_too_large"
	// ReasonNoIdentifier counts each entry of a stream whose first message
	// had no identifier. Envoy sends one on the first message of every
	// stream, so such a stream is not Envoy's; it is drained, not ended.
	ReasonNoIdentifier = "no_identifier"
	// ReasonTCP counts each TCP entry: only HTTP entries carry a response.
	ReasonTCP = "tcp_entry"
	// ReasonNoMetadata counts an HTTP entry with no extauthz dynamic
	// metadata: a request that ext_authz did not allow (its own denials), or
	// that did not pass through it.
	ReasonNoMetadata = "no_metadata"
	// ReasonMalformed counts an entry whose extauthz metadata has the wrong
	// types or values, or that has no response code although the response
	// came from upstream, or no response at all.
	ReasonMalformed = "malformed"
	// ReasonLocalReply counts an entry whose response did not come from the
	// upstream (response_code_details is not "via_upstream", or is missing):
	// a reply of Envoy itself, such as no_healthy_upstream or a timeout.
	ReasonLocalReply = "local_reply"
	// ReasonUnknownCredential counts an entry whose metadata names no
	// configured credential. The name is neither logged nor a metric label.
	ReasonUnknownCredential = "unknown_credential"
)

// Reasons returns every Reason constant, for a metric that pre-creates its
// series.
func Reasons() []string {
	return []string{ReasonUndecodable, ReasonTooLarge, ReasonNoIdentifier, ReasonTCP, ReasonNoMetadata,
		ReasonMalformed, ReasonLocalReply, ReasonUnknownCredential}
}

// Response classes of upstream answers: the values Observer.UpstreamResponse
// receives.
const (
	// Class401 is 401 Unauthorized: the token was refused.
	Class401 = "401"
	// Class403 is 403 Forbidden.
	Class403 = "403"
	// Class429 is 429 Too Many Requests.
	Class429 = "429"
	// Class5xx is any status from 500 to 599.
	Class5xx = "5xx"
	// ClassOther is every other status.
	ClassOther = "other"
)

// Classes returns every Class constant, for a metric that pre-creates its
// series.
func Classes() []string { return []string{Class401, Class403, Class429, Class5xx, ClassOther} }

// classOf returns the class of an HTTP status code.
func classOf(code uint32) string {
	switch {
	case code == 401:
		return Class401
	case code == 403:
		return Class403
	case code == 429:
		return Class429
	case code >= 500 && code <= 599:
		return Class5xx
	}
	return ClassOther
}
