package e2e

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"extauthz/internal/envoymodel"
)

// logSink is a stand-in AccessLogService that hands each message it
// receives to the test. (extauthz's own service, internal/feedback, is
// tested against this model on its own.)
type logSink struct {
	accesslogv3.UnimplementedAccessLogServiceServer
	got    chan *accesslogv3.StreamAccessLogsMessage
	client accesslogv3.AccessLogServiceClient
}

func (s *logSink) StreamAccessLogs(stream accesslogv3.AccessLogService_StreamAccessLogsServer) error {
	for {
		m, err := stream.Recv()
		if err != nil {
			return nil
		}
		select {
		case s.got <- m:
		case <-stream.Context().Done():
			return nil
		}
	}
}

// startLogSink serves a logSink on loopback until the test ends.
func startLogSink(t *testing.T) *logSink {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &logSink{got: make(chan *accesslogv3.StreamAccessLogsMessage)}
	srv := grpc.NewServer()
	accesslogv3.RegisterAccessLogServiceServer(srv, s)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	s.client = accesslogv3.NewAccessLogServiceClient(conn)
	t.Cleanup(func() { conn.Close(); srv.Stop() })
	return s
}

// next returns the next message the sink received; the deadline only guards
// against a hang.
func (s *logSink) next(t *testing.T) *accesslogv3.StreamAccessLogsMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case m := <-s.got:
		return m
	case <-ctx.Done():
		t.Fatal("no access log entry arrived")
		return nil
	}
}

// oneEntry returns the single entry of the sink's next message, and
// whether the message carried the identifier.
func (s *logSink) oneEntry(t *testing.T) (*datav3.HTTPAccessLogEntry, bool) {
	t.Helper()
	m := s.next(t)
	entries := m.GetHttpLogs().GetLogEntry()
	if len(entries) != 1 {
		t.Fatalf("a message with %d entries, want 1 (buffer_size_bytes 1)", len(entries))
	}
	return entries[0], m.GetIdentifier() != nil
}

// TestAccessLogEntriesThroughEveryEnvoy: through each Envoy version's
// behaviour, every request ends in one access log entry on the logger's
// stream, the identifier on the first message only. An allowed request
// answered by the upstream — 200, then 401 once the upstream rejects the
// credential — is logged via_upstream with the upstream's address and the
// ext_authz namespace holding what the CheckResponse's dynamic_metadata
// held (plus ext_authz_duration); a forbidden host is logged as
// ext_authz_denied with no upstream.
func TestAccessLogEntriesThroughEveryEnvoy(t *testing.T) {
	_, svc, up := startWIF(t, time.Minute)
	sink := startLogSink(t)
	for _, v := range envoymodel.Versions() {
		t.Run(v.String(), func(t *testing.T) {
			p := startLoggingProxy(t, v, svc, up, sink.client)
			for i, c := range []struct {
				host    string
				reject  bool
				code    uint32
				details string
			}{
				{"", false, http.StatusOK, envoymodel.DetailsViaUpstream},
				{"", true, http.StatusUnauthorized, envoymodel.DetailsViaUpstream},
				{"attacker.example", false, http.StatusForbidden, envoymodel.DetailsDenied},
			} {
				up.rejectCredentials(c.reject)
				status, _, _ := send(t, p, c.host)
				up.rejectCredentials(false)
				up.requests()
				e, identified := sink.oneEntry(t)
				if identified != (i == 0) {
					t.Errorf("request %d: identifier %v, want it on the stream's first message only", i, identified)
				}
				if got := e.GetResponse(); got.GetResponseCode().GetValue() != c.code || got.GetResponseCodeDetails() != c.details || uint32(status) != c.code {
					t.Errorf("request %d: client got %d, entry %d %q; want %d %q", i, status, got.GetResponseCode().GetValue(), got.GetResponseCodeDetails(), c.code, c.details)
				}
				common := e.GetCommonProperties()
				if upstream := common.GetUpstreamRemoteAddress() != nil; upstream != (c.details == envoymodel.DetailsViaUpstream) {
					t.Errorf("request %d: upstream address %v", i, common.GetUpstreamRemoteAddress())
				}
				checked := p.checkMetadata()
				if len(checked) != 1 {
					t.Fatalf("request %d: %d checks", i, len(checked))
				}
				want := proto.Clone(checked[0]).(*structpb.Struct)
				logged := proto.Clone(common.GetMetadata().GetFilterMetadata()[envoymodel.MetadataNamespace]).(*structpb.Struct)
				if c.code != http.StatusForbidden && len(want.GetFields()) > 0 {
					if _, ok := logged.GetFields()["ext_authz_duration"]; !ok {
						t.Errorf("request %d: no ext_authz_duration next to the metadata", i)
					}
					delete(logged.Fields, "ext_authz_duration")
				}
				if len(want.GetFields()) == 0 {
					want = nil
				}
				if !proto.Equal(logged, want) {
					t.Errorf("request %d: logged metadata %v, the CheckResponse carried %v", i, logged, want)
				}
			}
			checkWire(t, p)
		})
	}
}

// TestUpstream401HealsThroughEveryEnvoy: with the access logger streaming
// to extauthz itself (the shipped configs' layout), an upstream 401 —
// Anthropic revoking the token early — leads to a new token on the
// requests that follow, without waiting for the scheduled refresh (the
// tokens live an hour).
func TestUpstream401HealsThroughEveryEnvoy(t *testing.T) {
	for _, v := range envoymodel.Versions() {
		t.Run(v.String(), func(t *testing.T) {
			// A service per version: a credential acts on one 401 per 30 s.
			emu, svc, up := startWIF(t, time.Hour)
			p := startLoggingProxy(t, v, svc, up, accesslogv3.NewAccessLogServiceClient(svc.conn))
			if status, _, _ := send(t, p, ""); status != http.StatusOK {
				t.Fatalf("first request: status %d", status)
			}
			first := wifBearer(t, only(t, up))
			up.rejectCredentials(true) // the token is revoked upstream
			if status, _, _ := send(t, p, ""); status != http.StatusUnauthorized {
				t.Fatalf("request after the revocation: status %d, want the upstream's 401", status)
			}
			up.rejectCredentials(false)
			if got := wifBearer(t, only(t, up)); got != first {
				t.Fatal("the revoked request did not carry the first token")
			}
			// The refresh runs in extauthz's refresher, an exchange away:
			// the deadline only guards against a hang.
			for deadline := time.Now().Add(10 * time.Second); ; {
				if status, _, _ := send(t, p, ""); status != http.StatusOK {
					t.Fatalf("status %d after the 401", status)
				}
				if got := wifBearer(t, only(t, up)); got != first {
					if !emu.Valid(got) {
						t.Error("the new bearer is not a token the emulator minted")
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("requests after an upstream 401 still carry the revoked token")
				}
				time.Sleep(5 * time.Millisecond)
			}
			checkWire(t, p)
		})
	}
}
