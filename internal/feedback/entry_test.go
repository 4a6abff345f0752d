package feedback

import (
	"context"
	"errors"
	"maps"
	"testing"

	accesslogdatav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestEntry feeds one entry to a fresh server on an identified stream and
// checks what it counted and whether the credential refreshed.
func TestEntry(t *testing.T) {
	noCode := stampedEntry("team-a", 1, 0, viaUpstream)
	noCode.Response.ResponseCode = nil
	noResponse := stampedEntry("team-a", 1, 401, viaUpstream)
	noResponse.Response = nil
	cases := []struct {
		name      string
		entry     *accesslogdatav3.HTTPAccessLogEntry
		ignored   string // reason, or "" when counted as an upstream response
		class     string // when counted
		refreshes int    // of team-a
	}{
		{"upstream 401, current generation", stampedEntry("team-a", 1, 401, viaUpstream), "", Class401, 1},
		{"upstream 401, stale generation", stampedEntry("team-a", 0, 401, viaUpstream), "", Class401, 0},
		{"upstream 401, future generation", stampedEntry("team-a", 2, 401, viaUpstream), "", Class401, 0},
		{"upstream 200", stampedEntry("team-a", 1, 200, viaUpstream), "", ClassOther, 0},
		{"upstream 403", stampedEntry("team-a", 1, 403, viaUpstream), "", Class403, 0},
		{"upstream 429", stampedEntry("team-a", 1, 429, viaUpstream), "", Class429, 0},
		{"upstream 529", stampedEntry("team-a", 1, 529, viaUpstream), "", Class5xx, 0},
		{"local 401", stampedEntry("team-a", 1, 401, "ext_authz_denied"), ReasonLocalReply, "", 0},
		{"ext_authz error 403", stampedEntry("team-a", 1, 403, "ext_authz_error"), ReasonLocalReply, "", 0},
		{"no healthy upstream", stampedEntry("team-a", 1, 503, "no_healthy_upstream"), ReasonLocalReply, "", 0},
		{"401 without details", stampedEntry("team-a", 1, 401, ""), ReasonLocalReply, "", 0},
		{"details cased otherwise", stampedEntry("team-a", 1, 401, "VIA_UPSTREAM"), ReasonLocalReply, "", 0},
		{"unknown credential 401", stampedEntry("team-z", 1, 401, viaUpstream), ReasonUnknownCredential, "", 0},
		{"unknown credential 200", stampedEntry("team-z", 1, 200, viaUpstream), ReasonUnknownCredential, "", 0},
		{"no metadata", entryWith(nil, 401, viaUpstream), ReasonNoMetadata, "", 0},
		{"other filter's metadata", entryWith(map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": {}}, 401, viaUpstream), ReasonNoMetadata, "", 0},
		{"no response code", noCode, ReasonMalformed, "", 0},
		{"no response", noResponse, ReasonMalformed, "", 0},
		{"empty entry", &accesslogdatav3.HTTPAccessLogEntry{}, ReasonNoMetadata, "", 0},
		{"nil entry", nil, ReasonNoMetadata, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			creds, obs := newFakeCredentials("team-a", "team-b"), newCountingObserver()
			s := newTestServer(t, creds, obs, nil)
			s.message(context.Background(), &stream{}, httpMessage(identifier(), c.entry))
			ignored, upstream := obs.snapshot()
			wantIgnored, wantUpstream := map[string]int{}, map[[2]string]int{}
			if c.ignored != "" {
				wantIgnored[c.ignored] = 1
			} else {
				wantUpstream[[2]string{"team-a", c.class}] = 1
			}
			if !maps.Equal(ignored, wantIgnored) || !maps.Equal(upstream, wantUpstream) {
				t.Errorf("counted ignored %v, upstream %v; want %v, %v", ignored, upstream, wantIgnored, wantUpstream)
			}
			if got := creds.refreshes("team-a"); got != c.refreshes {
				t.Errorf("team-a refreshed %d times, want %d", got, c.refreshes)
			}
			if got := creds.refreshes("team-b"); got != 0 {
				t.Errorf("team-b refreshed %d times", got)
			}
		})
	}
}

// TestOnlyUpstream401PassesAGeneration: every other entry asks Credentials
// with NoGeneration, so no answer but an upstream 401 can invalidate.
func TestOnlyUpstream401PassesAGeneration(t *testing.T) {
	creds := newFakeCredentials("team-a")
	s := newTestServer(t, creds, nil, nil)
	var entries []*accesslogdatav3.HTTPAccessLogEntry
	for _, code := range []uint32{200, 201, 400, 402, 403, 404, 429, 500, 503} {
		entries = append(entries, stampedEntry("team-a", 1, code, viaUpstream))
	}
	entries = append(entries, stampedEntry("team-a", 1, 401, "ext_authz_denied"), stampedEntry("team-a", 1, 401, ""))
	s.message(context.Background(), &stream{}, httpMessage(identifier(), entries...))
	if n := creds.invalidations(); n != 0 {
		t.Errorf("%d Invalidate calls named a generation", n)
	}
}

// TestStreamWithoutIdentifier: a stream whose first message has no
// identifier has every entry ignored, on every later message too (even one
// that carries an identifier), and stays open until the client closes it.
func TestStreamWithoutIdentifier(t *testing.T) {
	creds, obs := newFakeCredentials("team-a"), newCountingObserver()
	var logs logBuffer
	s := newTestServer(t, creds, obs, &logs)
	st := &stream{}
	e := stampedEntry("team-a", 1, 401, viaUpstream)
	s.message(context.Background(), st, httpMessage(nil, e, e))
	s.message(context.Background(), st, httpMessage(identifier(), e))
	s.message(context.Background(), st, &accesslogv3.StreamAccessLogsMessage{LogEntries: &accesslogv3.StreamAccessLogsMessage_TcpLogs{
		TcpLogs: &accesslogv3.StreamAccessLogsMessage_TCPAccessLogEntries{LogEntry: make([]*accesslogdatav3.TCPAccessLogEntry, 2)}}})
	ignored, upstream := obs.snapshot()
	if want := map[string]int{ReasonNoIdentifier: 5}; !maps.Equal(ignored, want) || len(upstream) != 0 {
		t.Errorf("counted ignored %v, upstream %v; want %v", ignored, upstream, want)
	}
	if creds.invalidations() != 0 {
		t.Error("an entry of an anonymous stream reached Invalidate")
	}
	if n := len(logs.lines(t, "without an identifier")); n != 1 {
		t.Errorf("%d WARN lines about the missing identifier, want 1", n)
	}
}

// TestTCPEntries are ignored on an identified stream too.
func TestTCPEntries(t *testing.T) {
	obs := newCountingObserver()
	s := newTestServer(t, newFakeCredentials("team-a"), obs, nil)
	s.message(context.Background(), &stream{}, &accesslogv3.StreamAccessLogsMessage{
		Identifier: identifier(),
		LogEntries: &accesslogv3.StreamAccessLogsMessage_TcpLogs{TcpLogs: &accesslogv3.StreamAccessLogsMessage_TCPAccessLogEntries{
			LogEntry: []*accesslogdatav3.TCPAccessLogEntry{{}, {}, nil}}},
	})
	if ignored, _ := obs.snapshot(); !maps.Equal(ignored, map[string]int{ReasonTCP: 3}) {
		t.Errorf("ignored = %v", ignored)
	}
}

func TestNewServerNeedsCredentials(t *testing.T) {
	if _, err := NewServer(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("NewServer without credentials: %v, want ErrInvalidOptions", err)
	}
}

func TestReasonsAndClassesAreDistinct(t *testing.T) {
	for _, list := range [][]string{Reasons(), Classes()} {
		seen := map[string]bool{}
		for _, v := range list {
			if v == "" || seen[v] {
				t.Errorf("empty or repeated value %q in %v", v, list)
			}
			seen[v] = true
		}
	}
}

func TestServiceName(t *testing.T) {
	if ServiceName != accesslogv3.AccessLogService_ServiceDesc.ServiceName {
		t.Errorf("ServiceName = %q, the generated service is %q", ServiceName, accesslogv3.AccessLogService_ServiceDesc.ServiceName)
	}
}
