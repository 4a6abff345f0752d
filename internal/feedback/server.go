package feedback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"extauthz/internal/logthrottle"
)

// ServiceName is the gRPC service the Server implements.
const ServiceName = "envoy.service.accesslog.v3.AccessLogService"

// ErrInvalidOptions is wrapped by every problem NewServer reports.
var ErrInvalidOptions = errors.New("invalid feedback options")

// streamLogInterval is the most often a kind of stream log line is written:
// a client that reconnects in a loop must not fill the log.
const streamLogInterval = time.Second

// Options configures a Server.
type Options struct {
	// Credentials is asked about every entry that names one; required.
	Credentials Credentials
	// Observer, if set, receives the counts.
	Observer Observer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Authorize authenticates the caller at the start of each stream; nil
	// allows every caller. A non-nil error (a gRPC status such as
	// PERMISSION_DENIED) ends the stream as it is, before anything is read.
	Authorize func(ctx context.Context) error
}

// Server implements envoy.service.accesslog.v3.AccessLogService. It is safe
// for concurrent use by any number of streams; the only state shared between
// them is log throttles.
type Server struct {
	accesslogv3.UnimplementedAccessLogServiceServer

	creds     Credentials
	obs       Observer
	log       *slog.Logger
	authorize func(ctx context.Context) error

	credLogs                                            credentialLogs
	startLog, anonymousLog, undecodableLog, tooLargeLog logthrottle.Throttle
}

var _ accesslogv3.AccessLogServiceServer = (*Server)(nil)

// NewServer validates o and returns a Server.
func NewServer(o Options) (*Server, error) {
	if o.Credentials == nil {
		return nil, fmt.Errorf("%w: no credentials", ErrInvalidOptions)
	}
	s := &Server{creds: o.Credentials, obs: o.Observer, log: o.Logger, authorize: o.Authorize}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, t := range []*logthrottle.Throttle{&s.startLog, &s.anonymousLog, &s.undecodableLog, &s.tooLargeLog} {
		t.Interval = streamLogInterval
	}
	return s, nil
}

// Register adds the Access Log Service to g.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	accesslogv3.RegisterAccessLogServiceServer(g, s)
}

// StreamAccessLogs reads one access-log stream until the client closes it,
// then answers with the empty response; it sends nothing else. A caller
// Authorize rejects gets its error and nothing is read. A message that
// cannot be decoded ends the stream (see recvFailed).
func (s *Server) StreamAccessLogs(ss accesslogv3.AccessLogService_StreamAccessLogsServer) error {
	ctx := ss.Context()
	if s.authorize != nil {
		if err := s.authorize(ctx); err != nil {
			return err
		}
	}
	var st stream
	for {
		m, err := ss.Recv()
		if err == io.EOF {
			s.logStreamEnd(ctx, &st, nil)
			return ss.SendAndClose(&accesslogv3.StreamAccessLogsResponse{})
		}
		if err != nil {
			return s.recvFailed(ctx, &st, err)
		}
		s.message(ctx, &st, m)
	}
}

// recvFailed counts and logs a failed Recv and returns its error. grpc has
// already ended the stream with that error's status, which holds nothing of
// the server's: Internal with the decoder's words about the client's own
// bytes for a message it could not decode, ResourceExhausted for a message
// over the server's receive limit, Canceled when the client went away.
func (s *Server) recvFailed(ctx context.Context, st *stream, err error) error {
	switch status.Code(err) {
	case codes.Internal:
		s.messageRefused(ctx, &s.undecodableLog, ReasonUndecodable,
			"access-log message could not be decoded; the stream ends")
	case codes.ResourceExhausted:
		s.messageRefused(ctx, &s.tooLargeLog, ReasonTooLarge,
			"access-log message over the gRPC receive limit; the stream ends (keep Envoy's buffer_size_bytes well below the limit)")
	}
	s.logStreamEnd(ctx, st, err)
	return err
}

// messageRefused counts a message grpc could not hand over and logs a
// throttled WARN.
func (s *Server) messageRefused(ctx context.Context, t *logthrottle.Throttle, reason, msg string) {
	s.obs.EntryIgnored(reason)
	if ok, suppressed := t.Allow(time.Now()); ok {
		s.log.LogAttrs(ctx, slog.LevelWarn, msg, slog.Int64("suppressed", suppressed))
	}
}

// logStreamStart logs the start of a stream: INFO with the sanitised
// identifier, or a WARN when there is none.
func (s *Server) logStreamStart(ctx context.Context, id *accesslogv3.StreamAccessLogsMessage_Identifier) {
	if id == nil {
		if ok, suppressed := s.anonymousLog.Allow(time.Now()); ok {
			s.log.LogAttrs(ctx, slog.LevelWarn, "access-log stream without an identifier (not Envoy?); ignoring its entries",
				slog.Int64("suppressed", suppressed))
		}
		return
	}
	if ok, suppressed := s.startLog.Allow(time.Now()); ok {
		s.log.LogAttrs(ctx, slog.LevelInfo, "access-log stream started",
			append(identifierAttrs(id), slog.Int64("suppressed", suppressed))...)
	}
}

// logStreamEnd logs the end of a stream at DEBUG.
func (s *Server) logStreamEnd(ctx context.Context, st *stream, err error) {
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "access-log stream ended",
		slog.Bool("identified", st.identified), slog.Uint64("entries", st.entries),
		slog.String("code", status.Code(err).String()))
}
