package envoymodel

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// credentialMetadata is the dynamic_metadata extauthz puts in an OK
// CheckResponse.
func credentialMetadata(name string, generation float64) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"credential": structpb.NewStringValue(name), "generation": structpb.NewNumberValue(generation),
	}}
}

var startTime = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

// upstream401 is the StreamInfo and final request headers of a request
// that ext_authz allowed with credentialMetadata("default", 7), after a check
// of 12 ms, and that the upstream answered with 401.
func upstream401(t *testing.T) (*StreamInfo, *Headers) {
	t.Helper()
	r := request(http.Header{"Authorization": {"Bearer client"}, "User-Agent": {"sdk/1"}})
	r.RemoteAddr = "192.0.2.1:40000"
	si := NewStreamInfo(r, startTime)
	h := NewHeaders(r)
	resp := allow([]string{"x-api-key"}, option("authorization", "Bearer server", appendFalse, overwriteOrAdd))
	resp.DynamicMetadata = credentialMetadata("default", 7)
	out := filter(t, Envoy139, nil).Apply(h, resp)
	si.RecordCheck(out, 12*time.Millisecond+900*time.Microsecond)
	si.RecordUpstream(http.StatusUnauthorized, "127.0.0.1:8443", "anthropic_api")
	si.Complete(startTime.Add(80*time.Millisecond), 31, 97)
	return si, h
}

func TestAccessLogEntryOfAnUpstream401(t *testing.T) {
	si, h := upstream401(t)
	e := si.HTTPAccessLogEntry(h)
	if e.GetResponse().GetResponseCode().GetValue() != 401 || e.GetResponse().GetResponseCodeDetails() != DetailsViaUpstream {
		t.Errorf("response %v, want 401 via_upstream", e.GetResponse())
	}
	md := e.GetCommonProperties().GetMetadata().GetFilterMetadata()[MetadataNamespace]
	want := credentialMetadata("default", 7)
	want.Fields["ext_authz_duration"] = structpb.NewNumberValue(12) // whole milliseconds
	if !proto.Equal(md, want) {
		t.Errorf("metadata %v, want %v", md, want)
	}
	c := e.GetCommonProperties()
	if a := c.GetUpstreamRemoteAddress().GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != 8443 || c.GetUpstreamCluster() != "anthropic_api" {
		t.Errorf("upstream %v %q", c.GetUpstreamRemoteAddress(), c.GetUpstreamCluster())
	}
	if c.GetResponseFlags() != nil || c.GetIntermediateLogEntry() || c.GetAccessLogType() != datav3.AccessLogType_DownstreamEnd {
		t.Errorf("flags %v, intermediate %v, type %v", c.GetResponseFlags(), c.GetIntermediateLogEntry(), c.GetAccessLogType())
	}
	if !c.GetStartTime().AsTime().Equal(startTime) || c.GetDuration().AsDuration() != 80*time.Millisecond {
		t.Errorf("startTime %v duration %v", c.GetStartTime().AsTime(), c.GetDuration().AsDuration())
	}
	if a := c.GetDownstreamRemoteAddress().GetSocketAddress(); a.GetAddress() != "192.0.2.1" || a.GetPortValue() != 40000 {
		t.Errorf("downstream %v", c.GetDownstreamRemoteAddress())
	}
	req := e.GetRequest()
	if req.GetRequestMethod() != corev3.RequestMethod_POST || req.GetPath() != "/v1/messages?beta=true" ||
		req.GetAuthority() != "127.0.0.1:10000" || req.GetScheme() != "http" || req.GetUserAgent() != "sdk/1" ||
		req.GetRequestBodyBytes() != 31 || e.GetResponse().GetResponseBodyBytes() != 97 || req.GetRequestHeadersBytes() == 0 {
		t.Errorf("request %v", req)
	}
	if e.GetProtocolVersion() != datav3.HTTPAccessLogEntry_HTTP11 {
		t.Errorf("protocol %v", e.GetProtocolVersion())
	}
}

// TestAccessLogEntryOfExtAuthzReplies: the filter's own replies carry their
// ext_authz_* details, the UnauthorizedExternalService flag and no upstream;
// a denial's metadata is stored without ext_authz_duration, a failed call
// stores none.
func TestAccessLogEntryOfExtAuthzReplies(t *testing.T) {
	f := filter(t, Envoy139, nil)
	denied := deny(7, typev3.StatusCode_Forbidden, "no")
	denied.DynamicMetadata = credentialMetadata("team-a", 2)
	for _, c := range []struct {
		name    string
		out     Outcome
		code    uint32
		details string
		md      *structpb.Struct
	}{
		{"denied", f.Apply(NewHeaders(request(nil)), denied), 403, DetailsDenied, credentialMetadata("team-a", 2)},
		{"failed call", f.OnError(NewHeaders(request(nil))), 403, DetailsError, nil},
	} {
		si := NewStreamInfo(request(nil), startTime)
		si.RecordCheck(c.out, time.Millisecond)
		e := si.HTTPAccessLogEntry(NewHeaders(request(nil)))
		if e.GetResponse().GetResponseCode().GetValue() != c.code || e.GetResponse().GetResponseCodeDetails() != c.details {
			t.Errorf("%s: response %v", c.name, e.GetResponse())
		}
		if e.GetCommonProperties().GetResponseFlags().GetUnauthorizedDetails().GetReason() != datav3.ResponseFlags_Unauthorized_EXTERNAL_SERVICE {
			t.Errorf("%s: flags %v", c.name, e.GetCommonProperties().GetResponseFlags())
		}
		if e.GetCommonProperties().GetUpstreamRemoteAddress() != nil {
			t.Errorf("%s: an upstream address on a local reply", c.name)
		}
		if md := e.GetCommonProperties().GetMetadata().GetFilterMetadata()[MetadataNamespace]; !proto.Equal(md, c.md) {
			t.Errorf("%s: metadata %v, want %v", c.name, md, c.md)
		}
		if !e.GetCommonProperties().GetIntermediateLogEntry() {
			t.Errorf("%s: an entry before Complete is not marked intermediate", c.name)
		}
	}
}

func TestSetDynamicMetadataMerges(t *testing.T) {
	si := NewStreamInfo(request(nil), startTime)
	si.SetDynamicMetadata("ns", credentialMetadata("a", 1))
	si.SetDynamicMetadata("ns", &structpb.Struct{Fields: map[string]*structpb.Value{"generation": structpb.NewNumberValue(2)}})
	if got := si.DynamicMetadata().GetFilterMetadata()["ns"]; !proto.Equal(got, credentialMetadata("a", 2)) {
		t.Errorf("merged %v", got)
	}
}

// fakeALS is an AccessLogService server that hands every message it
// receives to the test, with the number of the stream it came on.
type fakeALS struct {
	accesslogv3.UnimplementedAccessLogServiceServer
	got     chan received
	streams chan struct{} // one token per stream, to number them
}

type received struct {
	stream int
	msg    *accesslogv3.StreamAccessLogsMessage
}

func (f *fakeALS) StreamAccessLogs(s accesslogv3.AccessLogService_StreamAccessLogsServer) error {
	f.streams <- struct{}{}
	n := len(f.streams)
	for {
		m, err := s.Recv()
		if err != nil {
			return nil
		}
		select {
		case f.got <- received{n, m}:
		case <-s.Context().Done():
			return nil
		}
	}
}

// startALS serves a fakeALS on loopback and returns it with a client of it.
func startALS(t *testing.T) (*fakeALS, accesslogv3.AccessLogServiceClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	als := &fakeALS{got: make(chan received), streams: make(chan struct{}, 100)}
	accesslogv3.RegisterAccessLogServiceServer(srv, als)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); srv.Stop() })
	return als, accesslogv3.NewAccessLogServiceClient(conn)
}

// next returns the next message the server received; the deadline only
// guards against a hang.
func (f *fakeALS) next(t *testing.T) received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case r := <-f.got:
		return r
	case <-ctx.Done():
		t.Fatal("the access log server received nothing")
		return received{}
	}
}

// TestAccessLoggerOverGRPC: against a real AccessLogService server, the
// logger sends each entry as built, the identifier on the stream's first
// message only.
func TestAccessLoggerOverGRPC(t *testing.T) {
	als, client := startALS(t)
	one := uint32(1)
	l := runLogger(t, Envoy139, alsConfig(time.Hour, &one), client)
	si, h := upstream401(t)
	first := si.HTTPAccessLogEntry(h)
	if err := l.Log(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	got := als.next(t)
	if got.stream != 1 || !proto.Equal(got.msg.GetIdentifier(), &accesslogv3.StreamAccessLogsMessage_Identifier{Node: testNode, LogName: "extauthz"}) {
		t.Errorf("first message: stream %d identifier %v", got.stream, got.msg.GetIdentifier())
	}
	if entries := got.msg.GetHttpLogs().GetLogEntry(); len(entries) != 1 || !proto.Equal(entries[0], first) {
		t.Errorf("entries %v, want the one logged", entries)
	}
	mustLog(t, l, "/second")
	got = als.next(t)
	if p, id := paths(got.msg); got.stream != 1 || id || len(p) != 1 || p[0] != "/second" {
		t.Errorf("second message: stream %d, entries %q, identifier %v", got.stream, p, id)
	}
}
