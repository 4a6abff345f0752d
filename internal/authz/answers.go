package authz

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"sync/atomic"
)

// okAnswer is what an OK Check needs for one credential generation, worked
// out once per generation instead of per request: whether the credential can
// be sent as a header value, and the OK responses encoded for the wire.
// Immutable once published, except variants, which is copy-on-write.
type okAnswer struct {
	mode       Mode
	generation uint64
	credential string // revealed: it is the header value the response carries
	usable     bool   // validHeaderValue(credential)
	// metadata is the dynamic_metadata every OK response of this generation
	// carries: {"credential": name, "generation": N}. Shared, read-only.
	metadata *structpb.Struct

	// plain is the OK response when the client sent no anthropic-beta of its
	// own (WIF: oauthBeta alone), and the only one in static-key mode. nil
	// when not usable.
	plain *encodedResponse
	// variants are WIF OK responses for the client anthropic-beta values
	// seen in this generation, newest first, at most maxBetaVariants of
	// at most maxCachedBeta bytes each.
	variants atomic.Pointer[[]*encodedResponse]
}

// maxBetaVariants bounds the per-generation cache of client beta values. A
// client (an SDK version, Claude Code) sends the same flags on every request,
// so a few cover a sidecar; a client that varies them only costs an encode
// per request, as without a cache.
const maxBetaVariants = 8

// maxCachedBeta is the longest anthropic-beta value a variant is cached for.
// Real values are a few flags (about 100 bytes); the bound keeps the cache
// at a few kilobytes per generation whatever a client sends — a request can
// carry megabytes of flags — and longer values are encoded per request.
const maxCachedBeta = 1 << 10

// encodedResponse is an OK CheckResponse already in wire form: the bytes of
// proto.Marshal(allowResponse(...)), shared read-only by every RPC that sends
// them (Codec.Marshal hands out data; mem.SliceBuffer's Ref and Free do
// nothing, so concurrent sends may share it).
type encodedResponse struct {
	beta string // the anthropic-beta value it sends; "" in static-key mode
	data mem.BufferSlice
}

// answerFor returns the okAnswer of v, building it when v is a generation
// c has not answered with yet. It never serves another generation's bytes:
// the cached answer is used only if both its generation and its credential
// are v's (a string comparison that stops at the shared pointer when they
// are equal).
func (c *credential) answerFor(v Credential) *okAnswer {
	value := v.Value.Reveal()
	if a := c.answer.Load(); a != nil && a.generation == v.Generation && a.credential == value {
		return a
	}
	a := &okAnswer{mode: c.mode, generation: v.Generation, credential: value, usable: validHeaderValue(value),
		metadata: feedbackMetadata(c.name, v.Generation)}
	if a.usable {
		beta := ""
		if c.mode == ModeWIF {
			beta = oauthBeta
		}
		a.plain = a.encode(beta)
	}
	// Racing builders each store an answer that is right for the credential
	// they read; a reader checks the generation before using one.
	c.answer.Store(a)
	return a
}

// Keys of the dynamic metadata (design.md, "Upstream feedback"): Envoy
// stores it under the ext_authz filter's namespace, and its access logger
// reports it back with the upstream's response code.
const (
	MetadataCredential = "credential"
	MetadataGeneration = "generation"
)

// feedbackMetadata is {"credential": name, "generation": generation}.
// Generations count up from 1 and stay far below 2^53, so the number is
// exact as a double.
func feedbackMetadata(name string, generation uint64) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		MetadataCredential: structpb.NewStringValue(name),
		MetadataGeneration: structpb.NewNumberValue(float64(generation)),
	}}
}

// encode encodes allowResponse for a with beta, or returns nil if proto
// refuses it (it cannot: both values passed headerText, which includes
// valid UTF-8); the caller then sends the typed response, and grpc reports
// the error as it would on the typed path.
func (a *okAnswer) encode(beta string) *encodedResponse {
	// Deterministic: the metadata is a map, and equal answers should be
	// equal bytes.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(allowResponse(a.mode, a.credential, beta, a.metadata))
	if err != nil {
		return nil
	}
	return &encodedResponse{beta: beta, data: mem.BufferSlice{mem.SliceBuffer(b)}}
}

// withBeta returns the WIF OK response that sends beta (requestBeta's
// result), encoding and caching it on first use in this generation.
func (a *okAnswer) withBeta(beta []byte) *encodedResponse {
	if string(beta) == oauthBeta {
		return a.plain
	}
	if len(beta) > maxCachedBeta {
		return a.encode(string(beta))
	}
	old := a.variants.Load()
	if old != nil {
		for _, e := range *old {
			if e.beta == string(beta) {
				return e
			}
		}
	}
	e := a.encode(string(beta))
	if e == nil {
		return nil
	}
	next := []*encodedResponse{e}
	if old != nil {
		next = append(next, (*old)[:min(len(*old), maxBetaVariants-1)]...)
	}
	// If another request published first, its list stands and e is used
	// once: a cache miss, never a wrong answer.
	a.variants.CompareAndSwap(old, &next)
	return e
}
