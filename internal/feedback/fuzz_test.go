package feedback

import (
	"log/slog"
	"testing"

	accesslogdatav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"extauthz/internal/leakcheck"
)

// leakFail is a log writer for fuzzing: it fails the test on a line that
// holds a credential and keeps nothing (a fuzzer logs too much to keep).
type leakFail struct{ t *testing.T }

func (w leakFail) Write(p []byte) (int, error) {
	if leaks := leakcheck.Find(string(p), testBearer, testAPIKey); len(leaks) > 0 {
		w.t.Errorf("a log line holds a credential: %v", leaks)
	}
	return len(p), nil
}

// FuzzMessage feeds any bytes that decode as a StreamAccessLogsMessage to
// the entry handler, as the first message of a stream and as a later one.
// It must not panic, must count every entry exactly once, and may pass a
// generation to Invalidate only for an upstream 401.
func FuzzMessage(f *testing.F) {
	seeds := []*accesslogv3.StreamAccessLogsMessage{
		httpMessage(identifier(), stampedEntry("team-a", 1, 401, viaUpstream)),
		httpMessage(nil, stampedEntry("team-a", 1, 200, viaUpstream), stampedEntry("team-b", 7, 503, "no_healthy_upstream")),
		httpMessage(identifier(), entryWith(map[string]*structpb.Struct{extauthzNamespace + "/gw": {Fields: map[string]*structpb.Value{
			credentialField: structpb.NewStringValue("team-a"), generationField: structpb.NewStringValue("1")}}}, 401, viaUpstream)),
		httpMessage(identifier(), &accesslogdatav3.HTTPAccessLogEntry{}),
		{Identifier: identifier(), LogEntries: &accesslogv3.StreamAccessLogsMessage_TcpLogs{TcpLogs: &accesslogv3.StreamAccessLogsMessage_TCPAccessLogEntries{
			LogEntry: []*accesslogdatav3.TCPAccessLogEntry{{}}}}},
		{Identifier: &accesslogv3.StreamAccessLogsMessage_Identifier{LogName: "bad\x1b[2J\u202ename"}},
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &accesslogv3.StreamAccessLogsMessage{}
		if proto.Unmarshal(data, m) != nil {
			return
		}
		entries := len(m.GetHttpLogs().GetLogEntry()) + len(m.GetTcpLogs().GetLogEntry())
		upstream401 := 0
		for _, e := range m.GetHttpLogs().GetLogEntry() {
			if r := e.GetResponse(); r.GetResponseCodeDetails() == viaUpstream && r.GetResponseCode().GetValue() == 401 {
				upstream401++
			}
		}
		for _, st := range []*stream{{}, {started: true, identified: true}} {
			creds, obs := newFakeCredentials("team-a", "team-b"), newCountingObserver()
			s, err := NewServer(Options{Credentials: creds, Observer: obs,
				Logger: slog.New(slog.NewJSONHandler(leakFail{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			s.message(t.Context(), st, m)
			if got := obs.total(); got != entries {
				t.Errorf("counted %d of %d entries", got, entries)
			}
			if got := creds.invalidations(); got > upstream401 {
				t.Errorf("%d Invalidate calls named a generation for %d upstream 401s", got, upstream401)
			}
		}
	})
}
