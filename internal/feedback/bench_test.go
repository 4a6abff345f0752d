package feedback

import (
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/proto"
)

// mapCredentials costs what the service's credentials should: a map lookup
// and a comparison, no lock.
type mapCredentials map[string]uint64

func (m mapCredentials) Invalidate(name string, generation uint64) bool {
	_, ok := m[name]
	return ok
}

// benchMessage is 1000 entries as Envoy sends them, request headers
// included: mostly upstream 200s, some 401s, local replies and requests
// without metadata.
func benchMessage() *accesslogv3.StreamAccessLogsMessage {
	m := httpMessage(nil)
	for i := range 1000 {
		e := stampedEntry("team-a", 1, 200, viaUpstream)
		switch i % 10 {
		case 1:
			e = stampedEntry("team-a", 1, 401, viaUpstream)
		case 2:
			e = stampedEntry("team-b", 1, 503, "no_healthy_upstream")
		case 3:
			e = entryWith(nil, 403, "ext_authz_denied")
		}
		m.GetHttpLogs().LogEntry = append(m.GetHttpLogs().LogEntry, e)
	}
	return m
}

// BenchmarkEntries is the server's own cost per decoded entry.
func BenchmarkEntries(b *testing.B) {
	s := newTestServer(b, mapCredentials{"team-a": 1, "team-b": 1}, nil, nil)
	m := benchMessage()
	st := &stream{started: true, identified: true}
	b.ReportAllocs()
	for b.Loop() {
		s.message(b.Context(), st, m)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/entry")
}

// BenchmarkDecodeAndEntries adds grpc's part, decoding the message, which
// is most of the cost of an entry.
func BenchmarkDecodeAndEntries(b *testing.B) {
	s := newTestServer(b, mapCredentials{"team-a": 1, "team-b": 1}, nil, nil)
	wire, err := proto.Marshal(benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	st := &stream{started: true, identified: true}
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		m := &accesslogv3.StreamAccessLogsMessage{}
		if err := proto.Unmarshal(wire, m); err != nil {
			b.Fatal(err)
		}
		s.message(b.Context(), st, m)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/entry")
}
