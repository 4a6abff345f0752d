package feedback

import (
	"context"
	"log/slog"
	"time"

	accesslogdatav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
)

// viaUpstream is the response_code_details Envoy records when the response
// came from the upstream (StreamInfo::ResponseCodeDetails::ViaUpstream);
// every local reply, ext_authz's own denials included, records another.
const viaUpstream = "via_upstream"

// stream is the state of one StreamAccessLogs call: two flags and a count,
// whatever the stream carries and however long it stays open.
type stream struct {
	started    bool   // the first message was seen
	identified bool   // it carried an identifier
	entries    uint64 // entries seen, for the closing log line
}

// message handles one StreamAccessLogsMessage of st. It keeps nothing of m.
func (s *Server) message(ctx context.Context, st *stream, m *accesslogv3.StreamAccessLogsMessage) {
	if !st.started {
		st.started = true
		st.identified = m.GetIdentifier() != nil
		s.logStreamStart(ctx, m.GetIdentifier())
	}
	httpLogs, tcpLogs := m.GetHttpLogs().GetLogEntry(), m.GetTcpLogs().GetLogEntry()
	st.entries += uint64(len(httpLogs)) + uint64(len(tcpLogs))
	if !st.identified {
		for range len(httpLogs) + len(tcpLogs) {
			s.obs.EntryIgnored(ReasonNoIdentifier)
		}
		return
	}
	for _, e := range httpLogs {
		s.entry(ctx, e)
	}
	for range tcpLogs {
		s.obs.EntryIgnored(ReasonTCP)
	}
}

// entry handles one HTTP entry: it is counted as an upstream response of a
// configured credential, or as ignored with the first reason that applies.
// Only an upstream 401 passes the stamp's generation to Invalidate; a local
// reply or an entry without an upstream response code never does (fail
// safe: the credential is kept).
func (s *Server) entry(ctx context.Context, e *accesslogdatav3.HTTPAccessLogEntry) {
	st, reason := stampOf(e.GetCommonProperties().GetMetadata())
	if reason != "" {
		s.obs.EntryIgnored(reason)
		return
	}
	resp := e.GetResponse()
	switch {
	case resp == nil:
		s.obs.EntryIgnored(ReasonMalformed)
		return
	case resp.GetResponseCodeDetails() != viaUpstream:
		s.obs.EntryIgnored(ReasonLocalReply)
		return
	case resp.GetResponseCode().GetValue() == 0:
		s.obs.EntryIgnored(ReasonMalformed)
		return
	}
	class := classOf(resp.GetResponseCode().GetValue())
	generation := NoGeneration
	if class == Class401 {
		generation = st.generation
	}
	if !s.creds.Invalidate(st.credential, generation) {
		s.obs.EntryIgnored(ReasonUnknownCredential)
		return
	}
	s.obs.UpstreamResponse(st.credential, class)
	if class == Class401 {
		s.logFeedback(ctx, st)
	}
}

// logFeedback writes at most one INFO line per credential per
// feedbackLogInterval about 401 feedback, with the number held back. Whether
// a refresh follows is the credential's to decide and log: it ignores a
// stale generation and refreshes at most once per 30 s. st.credential is a
// configured name: Invalidate said so.
func (s *Server) logFeedback(ctx context.Context, st stamp) {
	ok, suppressed := s.credLogs.get(st.credential).Allow(time.Now())
	if !ok {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "upstream answered 401; asked the credential to refresh",
		slog.String("credential", st.credential), slog.Uint64("generation", st.generation),
		slog.Int64("suppressed", suppressed))
}
