package envoymodel

import (
	"net"
	"net/http"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// StreamInfo is the part of Envoy's per-request StreamInfo that the model's
// filter and router write and the http_grpc access logger reads. Use
// NewStreamInfo; it is not safe for concurrent use (Envoy handles a stream on
// one worker thread).
type StreamInfo struct {
	start            time.Time
	duration         time.Duration
	complete         bool
	protocol         datav3.HTTPAccessLogEntry_HTTPVersion
	downstreamRemote *corev3.Address
	downstreamLocal  *corev3.Address
	metadata         *corev3.Metadata
	responseCode     int
	details          string
	unauthorized     bool // the UnauthorizedExternalService response flag
	upstreamRemote   *corev3.Address
	upstreamCluster  string
	bytesReceived    uint64
	bytesSent        uint64
}

// NewStreamInfo starts the StreamInfo of downstream request r, which
// arrived at start: its protocol and its peer and local addresses.
func NewStreamInfo(r *http.Request, start time.Time) *StreamInfo {
	s := &StreamInfo{start: start, downstreamRemote: socketAddress(r.RemoteAddr)}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		s.downstreamLocal = socketAddress(local.String())
	}
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		s.protocol = datav3.HTTPAccessLogEntry_HTTP10
	case r.ProtoMajor == 1:
		s.protocol = datav3.HTTPAccessLogEntry_HTTP11
	case r.ProtoMajor == 2:
		s.protocol = datav3.HTTPAccessLogEntry_HTTP2
	case r.ProtoMajor == 3:
		s.protocol = datav3.HTTPAccessLogEntry_HTTP3
	}
	return s
}

// SetDynamicMetadata merges v into the namespace's struct, as
// StreamInfoImpl::setDynamicMetadata does (MergeFrom: a key already present
// takes v's value).
func (s *StreamInfo) SetDynamicMetadata(namespace string, v *structpb.Struct) {
	if s.metadata == nil {
		s.metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	}
	if old := s.metadata.FilterMetadata[namespace]; old != nil {
		proto.Merge(old, v)
		return
	}
	s.metadata.FilterMetadata[namespace] = proto.Clone(v).(*structpb.Struct)
}

// DynamicMetadata returns a copy of the request's dynamic metadata; nil
// when no filter stored any.
func (s *StreamInfo) DynamicMetadata() *corev3.Metadata {
	if s.metadata == nil {
		return nil
	}
	return proto.Clone(s.metadata).(*corev3.Metadata)
}

// RecordCheck records what the ext_authz filter's onComplete writes for
// out, the outcome of a check call that took took: the dynamic metadata
// under MetadataNamespace, with ext_authz_duration (whole milliseconds) added
// when the response's status was OK, and, for a local reply, its status,
// response_code_details and the UnauthorizedExternalService flag.
func (s *StreamInfo) RecordCheck(out Outcome, took time.Duration) {
	if out.DynamicMetadata != nil {
		md := proto.Clone(out.DynamicMetadata).(*structpb.Struct)
		if out.okStatus {
			md.Fields["ext_authz_duration"] = structpb.NewNumberValue(float64(took.Milliseconds()))
		}
		s.SetDynamicMetadata(MetadataNamespace, md)
	}
	if !out.Allowed {
		s.responseCode, s.details, s.unauthorized = out.Status, out.Details, true
	}
}

// RecordUpstream records what the router writes when it relays the
// upstream's response headers (router.cc Filter::onUpstreamHeaders): the
// status code, response_code_details via_upstream, and the upstream host's
// address ("ip:port") and cluster.
func (s *StreamInfo) RecordUpstream(code int, hostAddress, cluster string) {
	s.responseCode, s.details = code, DetailsViaUpstream
	s.upstreamRemote, s.upstreamCluster = socketAddress(hostAddress), cluster
}

// Complete records the end of the stream at end, with the body bytes
// received from and sent to the client.
func (s *StreamInfo) Complete(end time.Time, bytesReceived, bytesSent uint64) {
	s.complete, s.duration = true, end.Sub(s.start)
	s.bytesReceived, s.bytesSent = bytesReceived, bytesSent
}

// HTTPAccessLogEntry is the entry envoy.access_loggers.http_grpc builds
// when the stream ends (HttpGrpcAccessLog::emitLog and
// GrpcCommon::Utility::extractCommonAccessLogProperties), for the request
// whose headers at that time are h (after the filters' and the router's
// changes). An entry logged before Complete is marked intermediate.
func (s *StreamInfo) HTTPAccessLogEntry(h *Headers) *datav3.HTTPAccessLogEntry {
	common := &datav3.AccessLogCommon{
		DownstreamRemoteAddress:       s.downstreamRemote,
		DownstreamDirectRemoteAddress: s.downstreamRemote,
		DownstreamLocalAddress:        s.downstreamLocal,
		StartTime:                     timestamppb.New(s.start),
		AccessLogType:                 datav3.AccessLogType_DownstreamEnd,
		IntermediateLogEntry:          !s.complete,
		Metadata:                      s.DynamicMetadata(),
	}
	if s.complete {
		common.Duration = durationpb.New(s.duration)
	}
	if s.upstreamRemote != nil {
		common.UpstreamRemoteAddress, common.UpstreamCluster = s.upstreamRemote, s.upstreamCluster
	}
	if s.unauthorized {
		common.ResponseFlags = &datav3.ResponseFlags{UnauthorizedDetails: &datav3.ResponseFlags_Unauthorized{
			Reason: datav3.ResponseFlags_Unauthorized_EXTERNAL_SERVICE,
		}}
	}
	header := func(key string) string { v, _ := h.Get(key); return sanitize(v) }
	request := &datav3.HTTPRequestProperties{
		RequestMethod:    corev3.RequestMethod(corev3.RequestMethod_value[header(":method")]),
		Scheme:           header(":scheme"),
		Authority:        header(":authority"),
		Path:             header(":path"),
		UserAgent:        header("user-agent"),
		Referer:          header("referer"),
		ForwardedFor:     header("x-forwarded-for"),
		RequestId:        header("x-request-id"),
		OriginalPath:     header("x-envoy-original-path"),
		RequestBodyBytes: s.bytesReceived,
	}
	for _, e := range h.entries {
		request.RequestHeadersBytes += uint64(len(e.Key) + len(e.Value))
	}
	response := &datav3.HTTPResponseProperties{ResponseCodeDetails: s.details, ResponseBodyBytes: s.bytesSent}
	if s.responseCode != 0 {
		response.ResponseCode = wrapperspb.UInt32(uint32(s.responseCode))
	}
	return &datav3.HTTPAccessLogEntry{CommonProperties: common, ProtocolVersion: s.protocol, Request: request, Response: response}
}
