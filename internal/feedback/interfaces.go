package feedback

import "math"

// Credentials is what the access-log server needs of the service's
// credentials. It must be safe for concurrent use and must not block.
type Credentials interface {
	// Invalidate reports whether name is a configured credential and, if it
	// is and generation is its current token's, asks it to refresh now
	// (non-blocking; the credential rate-limits). It must have no other
	// effect: the server asks with NoGeneration, which no token carries, to
	// learn only whether name is configured.
	Invalidate(name string, generation uint64) (known bool)
}

// NoGeneration is the generation the server passes to
// Credentials.Invalidate when it only needs to know whether a name is
// configured (every upstream answer but a 401). Generations read from
// metadata are at most 2^53, so no entry can name it.
const NoGeneration uint64 = math.MaxUint64

// Observer receives the server's counts; the service turns them into
// metrics. It must be safe for concurrent use, cheap and non-blocking: it is
// called once per access-log entry.
type Observer interface {
	// UpstreamResponse counts one answer that came from the upstream for a
	// request that carried a configured credential. class is one of the
	// Class constants; credential is always a configured name.
	UpstreamResponse(credential string, class string)
	// EntryIgnored counts one entry that led to nothing; reason is one of
	// the Reason constants.
	EntryIgnored(reason string)
}

// nopObserver stands in for a nil Options.Observer.
type nopObserver struct{}

func (nopObserver) UpstreamResponse(string, string) {}
func (nopObserver) EntryIgnored(string)             {}
