package envoymodel

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	grpcv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/proto"
)

// Envoy's defaults for CommonGrpcAccessLogConfig (access_loggers/common/
// grpc_access_logger.h, GrpcAccessLogger's constructor).
const (
	defaultFlushInterval = time.Second
	defaultBufferBytes   = 16384
)

// ErrLoggerStopped is returned by the AccessLogger's methods once Run has
// returned.
var ErrLoggerStopped = errors.New("envoymodel: access logger stopped")

// AccessLogStats are the logger's counters, named as Envoy's
// access_logs.grpc_access_log.* stats (grpc_entries_flushed and
// grpc_entries_flush_failed exist from 1.39; the model counts them on every
// version).
type AccessLogStats struct {
	Written     uint64 // logs_written: entries taken into the buffer
	Dropped     uint64 // logs_dropped: entries refused because the buffer stayed full
	Flushed     uint64 // grpc_entries_flushed: entries handed to a stream
	FlushFailed uint64 // grpc_entries_flush_failed: entries whose stream could not start
}

// AccessLogger models one worker thread's envoy.access_loggers.http_grpc
// logger (GrpcAccessLoggerImpl over GrpcAccessLogger and
// StreamingGrpcAccessLogClient). Envoy has one per worker thread, each with
// its own stream. Entries are buffered; the buffer is flushed when its
// approximate size reaches buffer_size_bytes (so 0 or 1 sends each entry at
// once) and every buffer_flush_interval. A flush sends one
// StreamAccessLogsMessage on the logger's StreamAccessLogs stream, starting
// one first if there is none; the first message of each stream carries the
// identifier (the node and log_name). Responses are ignored; when the server
// ends the stream, the next flush starts a new one. A batch sent on a
// stream that then fails is lost; when the buffer is full and cannot be
// flushed, new entries are dropped.
//
// All state belongs to the goroutine running Run, as it belongs to a worker
// thread in Envoy; the other methods hand their work to it.
type AccessLogger struct {
	version    Version
	client     accesslogv3.AccessLogServiceClient
	identifier *accesslogv3.StreamAccessLogsMessage_Identifier
	interval   time.Duration
	maxBytes   uint64

	calls   chan func()
	closed  chan *logStream
	stopped chan struct{}

	// Owned by Run's goroutine.
	runCtx  context.Context
	stream  *logStream
	pending []*datav3.HTTPAccessLogEntry
	size    uint64 // approximate_message_size_bytes_
	stats   AccessLogStats
}

// logStream is one StreamAccessLogs call.
type logStream struct {
	s      accesslogv3.AccessLogService_StreamAccessLogsClient
	cancel context.CancelFunc
}

// NewAccessLogger models cfg on Envoy version v, for an Envoy whose
// bootstrap node is node, sending to client (cfg.common_config.grpc_service
// is not read: client plays that cluster). It refuses the options the model
// does not cover: logged headers and trailers, filter_state_objects_to_log,
// custom_tags and grpc_stream_retry_policy.
func NewAccessLogger(v Version, cfg *grpcv3.HttpGrpcAccessLogConfig, node *corev3.Node, client accesslogv3.AccessLogServiceClient) (*AccessLogger, error) {
	if !v.valid() {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, v)
	}
	if err := cfg.ValidateAll(); err != nil {
		return nil, fmt.Errorf("access logger: %w", err)
	}
	common := cfg.GetCommonConfig()
	if common.GetTransportApiVersion() == corev3.ApiVersion_V2 {
		return nil, errors.New("access logger: transport_api_version V2 is rejected")
	}
	if len(cfg.GetAdditionalRequestHeadersToLog())+len(cfg.GetAdditionalResponseHeadersToLog())+
		len(cfg.GetAdditionalResponseTrailersToLog())+len(common.GetFilterStateObjectsToLog())+
		len(common.GetCustomTags()) > 0 || common.GetGrpcStreamRetryPolicy() != nil {
		return nil, fmt.Errorf("%w: logged headers, filter state, custom tags or a stream retry policy", ErrUnsupported)
	}
	l := &AccessLogger{
		version:    v,
		client:     client,
		identifier: &accesslogv3.StreamAccessLogsMessage_Identifier{Node: node, LogName: common.GetLogName()},
		interval:   defaultFlushInterval,
		maxBytes:   defaultBufferBytes,
		calls:      make(chan func()),
		closed:     make(chan *logStream),
		stopped:    make(chan struct{}),
	}
	if d := common.GetBufferFlushInterval(); d != nil {
		l.interval = d.AsDuration().Truncate(time.Millisecond) // PROTOBUF_GET_MS_OR_DEFAULT
	}
	if b := common.GetBufferSizeBytes(); b != nil {
		l.maxBytes = uint64(b.GetValue())
	}
	return l, nil
}

// Run is the logger's worker thread: it flushes every
// buffer_flush_interval, carries out the other methods' work, and notices
// the server ending a stream. It returns when ctx ends, cancelling the
// stream; call it once.
func (l *AccessLogger) Run(ctx context.Context) {
	defer close(l.stopped)
	l.runCtx = ctx
	timer := time.NewTimer(l.interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if l.stream != nil {
				l.stream.cancel()
			}
			return
		case call := <-l.calls:
			call()
		case st := <-l.closed:
			if st == l.stream { // LocalStream::onRemoteClose
				l.stream = nil
			}
		case <-timer.C:
			l.flush()
			timer.Reset(l.interval)
		}
	}
}

// Log hands e to the logger, as the access log's emitLog does when the
// stream ends; it returns once the logger has buffered (and, if the buffer
// is full, flushed) or dropped it.
func (l *AccessLogger) Log(ctx context.Context, e *datav3.HTTPAccessLogEntry) error {
	return l.do(ctx, func() { l.log(e) })
}

// Flush does now what the flush timer does.
func (l *AccessLogger) Flush(ctx context.Context) error { return l.do(ctx, l.flush) }

// Stats returns the logger's counters.
func (l *AccessLogger) Stats(ctx context.Context) (AccessLogStats, error) {
	var s AccessLogStats
	err := l.do(ctx, func() { s = l.stats })
	return s, err
}

// do runs f on Run's goroutine and waits for it.
func (l *AccessLogger) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case l.calls <- func() { f(); close(done) }:
	case <-l.stopped:
		return ErrLoggerStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done // f runs on the worker, which finishes what it started
	return nil
}

// log is GrpcAccessLogger::log: refuse the entry if the buffer is full and a
// flush does not empty it, buffer it, flush once the buffer is full.
func (l *AccessLogger) log(e *datav3.HTTPAccessLogEntry) {
	if !l.canLogMore() {
		return
	}
	l.size += uint64(proto.Size(e))
	l.pending = append(l.pending, e)
	if l.size >= l.maxBytes {
		l.flush()
	}
}

// canLogMore is GrpcAccessLogger::canLogMore.
func (l *AccessLogger) canLogMore() bool {
	if l.maxBytes == 0 || l.size < l.maxBytes {
		l.stats.Written++
		return true
	}
	l.flush()
	if l.size < l.maxBytes {
		l.stats.Written++
		return true
	}
	l.stats.Dropped++
	return false
}

// flush is GrpcAccessLogger::flush with StreamingGrpcAccessLogClient::log:
// send the buffer as one message, on a new stream with the identifier when
// there is none. When the stream cannot start, 1.39 and later keep the
// batch for the next flush; earlier versions drop it.
func (l *AccessLogger) flush() {
	if len(l.pending) == 0 {
		return
	}
	n := uint64(len(l.pending))
	msg := &accesslogv3.StreamAccessLogsMessage{
		LogEntries: &accesslogv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &accesslogv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: l.pending}},
	}
	if l.stream == nil {
		msg.Identifier = l.identifier // initMessage
		if l.stream = l.start(); l.stream == nil {
			l.stats.FlushFailed += n
			if !l.version.keepsUnsentBatch() {
				l.pending, l.size = nil, 0
			}
			return
		}
	}
	if err := l.stream.s.Send(msg); err != nil {
		// The stream has ended; Envoy would learn it from onRemoteClose
		// after sending. The batch is lost either way.
		l.stream.cancel()
		l.stream = nil
	}
	l.pending, l.size = nil, 0
	l.stats.Flushed += n
}

// start opens a StreamAccessLogs stream and watches it for its end; nil
// when it cannot be opened.
func (l *AccessLogger) start() *logStream {
	ctx, cancel := context.WithCancel(l.runCtx)
	s, err := l.client.StreamAccessLogs(ctx)
	if err != nil {
		cancel()
		return nil
	}
	st := &logStream{s: s, cancel: cancel}
	go func() {
		for {
			if err := s.RecvMsg(new(accesslogv3.StreamAccessLogsResponse)); err != nil {
				break
			}
		}
		select {
		case l.closed <- st:
		case <-l.runCtx.Done():
		}
	}()
	return st
}
