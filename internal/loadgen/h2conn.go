package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2/hpack"
)

// Per-response errors. They are values, built once, so that a failing
// response costs no allocation either.
var (
	errNoMessage  = errors.New("response carried no complete gRPC message")
	errHTTPStatus = errors.New("response :status is not 200")
	errNoStatus   = errors.New("response trailers carry no grpc-status")
	errReset      = errors.New("stream reset by the server")
)

// statusError is a non-zero grpc-status.
type statusError struct{ code int }

func (e statusError) Error() string { return "grpc-status " + strconv.Itoa(e.code) }

// ErrGoAway is returned when the server sends GOAWAY while requests are
// still being sent.
var ErrGoAway = errors.New("server sent GOAWAY")

const (
	maxStreamID = 1<<31 - 1
	// recvWindow is the flow-control window this client grants for every
	// stream and for the connection: large enough that the server never
	// waits on it. The connection's is topped up every recvTopUp bytes.
	recvWindow = 1 << 30
	recvTopUp  = 1 << 24
	// maxWaiting bounds the open-loop backlog of one connection; requests
	// beyond it are dropped and counted.
	maxWaiting = 1 << 20
	// handshakeTimeout bounds a TLS handshake, so that a server that
	// accepts connections and then says nothing fails the run.
	handshakeTimeout = 10 * time.Second
	// Stream ring sizing: at least minRing slots and ringSlack per request
	// allowed in flight (a power of two, for masking).
	minRing   = 256
	ringSlack = 8
)

// stream is one request in flight, in a ring indexed by stream id.
type stream struct {
	id    uint32 // 0: free
	start int64  // run clock, ns
	err   error  // what the response has shown so far; errNoMessage until its DATA
}

// h2Conn is one connection of the raw HTTP/2 client. Its reader goroutine
// (readLoop) parses every frame from the server, completes streams, records
// their latency and, in closed loop, starts the next request at once. Writes
// collect in bw and are flushed only when the reader is about to block or the
// pacer has queued one tick's requests, so one syscall carries many frames.
type h2Conn struct {
	nc    net.Conn
	br    *bufio.Reader
	run   *runState
	check func([]byte) error
	rec   recorder // owned by the reader goroutine

	// Reader state, owned by the reader goroutine.
	fh          [frameHeaderLen]byte
	payload     []byte // one frame's payload, reused
	block       []byte // a header block continued in CONTINUATION frames
	blockStream uint32
	blockEnd    bool // the HEADERS frame that started block ended its stream
	dec         *hpack.Decoder
	httpStatus  int // from the block being decoded; -1 when absent
	grpcStatus  int
	recvUnacked int64

	mu           sync.Mutex // guards the rest: the write side and the streams
	bw           *bufio.Writer
	firstHeaders []byte // HEADERS frame of the first request: adds the fields to the server's HPACK table
	headers      []byte // HEADERS frame of every later request: table references only
	sentFirst    bool
	data         []byte // DATA frame with the gRPC-framed request and END_STREAM
	bodyLen      int64
	nextID       uint32
	streams      []stream
	inFlight     int
	maxInFlight  int // the configured cap, lowered to the server's MAX_CONCURRENT_STREAMS
	sendWindow   int64
	waiting      []int64 // start times of requests held back (FIFO from waitHead)
	waitHead     int
	dropped      uint64
	closedLoop   bool
}

// dialH2 opens a connection and sets it up with openH2; the caller runs
// readLoop.
func dialH2(ctx context.Context, t target, run *runState, inFlight int, closedLoop bool) (*h2Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial %s: %w", t.addr, err)
	}
	return openH2(ctx, raw, t, run, inFlight, closedLoop)
}

// openH2 runs the TLS handshake on the connection raw when t asks for TLS,
// then sends the HTTP/2 preface and settings. It closes raw on failure.
func openH2(ctx context.Context, raw net.Conn, t target, run *runState, inFlight int, closedLoop bool) (*h2Conn, error) {
	nc, err := secure(ctx, raw, t)
	if err != nil {
		raw.Close()
		return nil, err
	}
	c, err := newH2Conn(nc, t, run, inFlight, closedLoop)
	if err != nil {
		raw.Close()
		return nil, err
	}
	var settings []byte
	settings = binary.BigEndian.AppendUint16(settings, settingEnablePush)
	settings = binary.BigEndian.AppendUint32(settings, 0)
	settings = binary.BigEndian.AppendUint16(settings, settingInitialWindowSize)
	settings = binary.BigEndian.AppendUint32(settings, recvWindow)
	hello := []byte(clientPreface)
	hello = appendFrame(hello, frameSettings, 0, 0, settings)
	hello = appendFrame(hello, frameWindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, recvWindow-defaultWindow))
	if _, err := nc.Write(hello); err != nil {
		raw.Close()
		return nil, fmt.Errorf("loadgen: %s: sending the HTTP/2 preface: %w", t.addr, err)
	}
	return c, nil
}

// secure returns raw itself for cleartext, or a TLS client connection over
// it after a handshake that selected h2 by ALPN. Past the handshake the TLS
// path adds no allocation per request to the client's; crypto/tls itself
// allocates one small reader per read from the socket (Conn.readFromUntil),
// which is per batch of responses, not per response.
func secure(ctx context.Context, raw net.Conn, t target) (net.Conn, error) {
	if t.tls == nil {
		return raw, nil
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	tc := tls.Client(raw, t.tls)
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, fmt.Errorf("loadgen: %s: TLS handshake: %w", t.addr, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		return nil, fmt.Errorf("%w: %s selected ALPN protocol %q, not h2", errProtocol, t.addr, p)
	}
	return tc, nil
}

// newH2Conn sets up the client state for an open connection nc.
func newH2Conn(nc net.Conn, t target, run *runState, inFlight int, closedLoop bool) (*h2Conn, error) {
	first, steady, err := requestHeaderBlocks(t.scheme(), t.addr, t.method)
	if err != nil {
		return nil, err
	}
	// The ring holds streams by id; a slot is reused ringSlack·inFlight
	// streams later, so one slow response rarely holds up the next request.
	ring := minRing
	for ring < ringSlack*inFlight {
		ring <<= 1
	}
	c := &h2Conn{
		nc:           nc,
		br:           bufio.NewReaderSize(nc, 64<<10),
		run:          run,
		check:        t.check,
		payload:      make([]byte, maxFrameSize),
		httpStatus:   -1,
		grpcStatus:   -1,
		bw:           bufio.NewWriterSize(nc, 64<<10),
		firstHeaders: appendFrame(nil, frameHeaders, flagEndHeaders, 0, first),
		headers:      appendFrame(nil, frameHeaders, flagEndHeaders, 0, steady),
		data:         appendFrame(nil, frameData, flagEndStream, 0, grpcFrame(t.request)),
		bodyLen:      int64(5 + len(t.request)),
		nextID:       1,
		streams:      make([]stream, ring),
		maxInFlight:  inFlight,
		sendWindow:   defaultWindow,
		closedLoop:   closedLoop,
	}
	c.dec = hpack.NewDecoder(4096, c.onField)
	c.dec.SetMaxStringLength(maxFrameSize)
	return c, nil
}

// requestHeaderBlocks encodes the request headers of a gRPC call as HPACK
// blocks the way Envoy's and grpc-go's clients do: the first block adds every
// field to the server's dynamic table (literals with incremental indexing),
// and every later block only refers to those entries, one byte per field, so
// it is the same bytes on every stream and leaves the table unchanged. (Never
// indexed literals would be simpler but make the server Huffman-decode every
// field of every request: about a tenth of a fast server's CPU, which no real
// client costs it.)
func requestHeaderBlocks(scheme, authority, method string) (first, steady []byte, err error) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	encode := func() ([]byte, error) {
		buf.Reset()
		for _, f := range [][2]string{
			{":method", "POST"},
			{":scheme", scheme},
			{":path", method},
			{":authority", authority},
			{"content-type", "application/grpc"},
			{"te", "trailers"},
			{"user-agent", "extauthz-loadgen"},
		} {
			if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
				return nil, fmt.Errorf("loadgen: encoding request headers: %w", err)
			}
		}
		return bytes.Clone(buf.Bytes()), nil
	}
	if first, err = encode(); err != nil {
		return nil, nil, err
	}
	if steady, err = encode(); err != nil {
		return nil, nil, err
	}
	again, err := encode()
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(again, steady) {
		return nil, nil, fmt.Errorf("loadgen: the request header block changes from one request to the next")
	}
	return first, steady, nil
}

// onField receives every decoded header field; only two matter.
func (c *h2Conn) onField(f hpack.HeaderField) {
	switch f.Name {
	case ":status":
		c.httpStatus, _ = strconv.Atoi(f.Value)
	case "grpc-status":
		if n, err := strconv.Atoi(f.Value); err == nil {
			c.grpcStatus = n
		}
	}
}

// offerLocked starts a request now if the in-flight cap, the flow-control
// window and the stream ring allow, and otherwise queues it behind the
// requests already waiting. Callers hold mu.
func (c *h2Conn) offerLocked(start int64) {
	if c.waitHead == len(c.waiting) && c.canSendLocked() {
		c.sendLocked(start)
		return
	}
	if len(c.waiting)-c.waitHead >= maxWaiting {
		c.dropped++
	} else {
		c.waiting = append(c.waiting, start)
	}
	c.drainLocked()
}

// drainLocked sends queued requests while there is room. Callers hold mu.
func (c *h2Conn) drainLocked() {
	for c.waitHead < len(c.waiting) && c.canSendLocked() {
		c.sendLocked(c.waiting[c.waitHead])
		c.waitHead++
	}
	if c.waitHead == len(c.waiting) {
		c.waiting, c.waitHead = c.waiting[:0], 0
	}
}

func (c *h2Conn) canSendLocked() bool {
	return c.inFlight < c.maxInFlight && c.sendWindow >= c.bodyLen && c.nextID <= maxStreamID &&
		c.streams[c.nextID>>1&uint32(len(c.streams)-1)].id == 0
}

// sendLocked writes one request's HEADERS and DATA frames into bw.
func (c *h2Conn) sendLocked(start int64) {
	id := c.nextID
	c.nextID += 2
	headers := c.headers
	if !c.sentFirst {
		headers, c.sentFirst = c.firstHeaders, true
	}
	setStreamID(headers, id)
	setStreamID(c.data, id)
	c.bw.Write(headers) // a write error sticks in bw and surfaces at Flush
	c.bw.Write(c.data)
	c.streams[id>>1&uint32(len(c.streams)-1)] = stream{id: id, start: start, err: errNoMessage}
	c.inFlight++
	c.sendWindow -= c.bodyLen
}

// flush sends what bw holds.
func (c *h2Conn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bw.Buffered() == 0 {
		return nil
	}
	return c.bw.Flush()
}

// pending is how many requests are in flight or waiting.
func (c *h2Conn) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight + len(c.waiting) - c.waitHead
}

// readFull fills b, flushing pending writes first whenever the read could
// block: the server cannot answer requests still sitting in bw.
func (c *h2Conn) readFull(b []byte) error {
	if c.br.Buffered() < len(b) {
		if err := c.flush(); err != nil {
			return err
		}
	}
	_, err := io.ReadFull(c.br, b)
	return err
}

// readLoop handles frames until the connection fails or is closed.
func (c *h2Conn) readLoop() error {
	for {
		if err := c.readFull(c.fh[:]); err != nil {
			return err
		}
		h := parseFrameHeader(c.fh[:])
		if h.length > maxFrameSize {
			return fmt.Errorf("%w: %d-byte frame exceeds the %d-byte limit", errProtocol, h.length, maxFrameSize)
		}
		p := c.payload[:h.length]
		if err := c.readFull(p); err != nil {
			return err
		}
		if err := c.handle(h, p); err != nil {
			return err
		}
	}
}

// handle acts on one frame.
func (c *h2Conn) handle(h frameHeader, p []byte) error {
	switch h.typ {
	case frameData:
		return c.onData(h, p)
	case frameHeaders:
		p, err := unpad(h, p)
		if err != nil {
			return err
		}
		if h.flags&flagEndHeaders == 0 {
			c.block, c.blockStream, c.blockEnd = append(c.block[:0], p...), h.streamID, h.flags&flagEndStream != 0
			return nil
		}
		return c.onHeaderBlock(h.streamID, p, h.flags&flagEndStream != 0)
	case frameContinuation:
		if h.streamID != c.blockStream || c.blockStream == 0 {
			return fmt.Errorf("%w: unexpected CONTINUATION", errProtocol)
		}
		c.block = append(c.block, p...)
		if h.flags&flagEndHeaders == 0 {
			return nil
		}
		id := c.blockStream
		c.blockStream = 0
		return c.onHeaderBlock(id, c.block, c.blockEnd)
	case frameRSTStream:
		c.finish(h.streamID, errReset)
	case frameSettings:
		if h.flags&flagAck == 0 {
			return c.onSettings(p)
		}
	case framePing:
		if h.flags&flagAck == 0 && len(p) == 8 {
			c.mu.Lock()
			c.bw.Write(appendFrame(nil, framePing, flagAck, 0, p))
			c.mu.Unlock()
		}
	case frameWindowUpdate:
		if len(p) != 4 {
			return fmt.Errorf("%w: WINDOW_UPDATE of %d bytes", errProtocol, len(p))
		}
		if h.streamID == 0 {
			c.mu.Lock()
			c.sendWindow += int64(binary.BigEndian.Uint32(p) & 0x7fffffff)
			c.drainLocked()
			c.mu.Unlock()
		}
	case frameGoAway:
		return ErrGoAway
	case framePushPromise:
		return fmt.Errorf("%w: PUSH_PROMISE although push is disabled", errProtocol)
	}
	return nil
}

// onData checks a response message and returns the bytes to the
// connection's window.
func (c *h2Conn) onData(h frameHeader, p []byte) error {
	c.recvUnacked += int64(h.length)
	p, err := unpad(h, p)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.recvUnacked >= recvTopUp {
		c.bw.Write(appendFrame(nil, frameWindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, uint32(c.recvUnacked))))
		c.recvUnacked = 0
	}
	if s := &c.streams[h.streamID>>1&uint32(len(c.streams)-1)]; s.id == h.streamID && s.err == errNoMessage {
		if msg, ok := grpcMessage(p); !ok {
			s.err = errNoMessage // a message split over frames is not expected at these sizes
		} else if c.check != nil {
			s.err = c.check(msg)
		} else {
			s.err = nil
		}
	}
	c.mu.Unlock()
	if h.flags&flagEndStream != 0 {
		c.finish(h.streamID, errNoStatus)
	}
	return nil
}

// onHeaderBlock decodes a complete header block: response headers, or the
// trailers (or a trailers-only response) that end the stream.
func (c *h2Conn) onHeaderBlock(id uint32, block []byte, endStream bool) error {
	c.httpStatus, c.grpcStatus = -1, -1
	if _, err := c.dec.Write(block); err != nil {
		return fmt.Errorf("%w: hpack: %w", errProtocol, err)
	}
	if err := c.dec.Close(); err != nil {
		return fmt.Errorf("%w: hpack: %w", errProtocol, err)
	}
	var err error
	switch {
	case c.httpStatus != -1 && c.httpStatus != 200:
		err = errHTTPStatus
	case !endStream:
		return nil
	case c.grpcStatus == -1:
		err = errNoStatus
	case c.grpcStatus != 0:
		err = statusError{c.grpcStatus}
	}
	if endStream {
		c.finish(id, err)
	} else {
		c.mu.Lock()
		if s := &c.streams[id>>1&uint32(len(c.streams)-1)]; s.id == id {
			s.err = err
		}
		c.mu.Unlock()
	}
	return nil
}

// onSettings applies the server's settings and acknowledges them.
func (c *h2Conn) onSettings(p []byte) error {
	if len(p)%6 != 0 {
		return fmt.Errorf("%w: SETTINGS of %d bytes", errProtocol, len(p))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; len(p) > 0; p = p[6:] {
		v := binary.BigEndian.Uint32(p[2:6])
		switch binary.BigEndian.Uint16(p[:2]) {
		case settingMaxConcurrentStreams:
			c.maxInFlight = min(c.maxInFlight, int(v))
		case settingInitialWindowSize:
			if int64(v) < c.bodyLen {
				return fmt.Errorf("loadgen: the server's %d-byte stream window is smaller than the %d-byte request", v, c.bodyLen)
			}
		}
	}
	c.bw.Write(appendFrame(nil, frameSettings, flagAck, 0, nil))
	return nil
}

// finish completes stream id with err (nil for a good response), records it
// while the run is recording, and starts the next request in closed loop.
func (c *h2Conn) finish(id uint32, err error) {
	now := c.run.now()
	c.mu.Lock()
	s := &c.streams[id>>1&uint32(len(c.streams)-1)]
	if s.id != id {
		c.mu.Unlock()
		return // not ours, or already finished
	}
	if err == nil {
		err = s.err
	}
	start := s.start
	*s = stream{}
	c.inFlight--
	if c.closedLoop && !c.run.stopping.Load() {
		c.offerLocked(now)
	} else {
		c.drainLocked()
	}
	c.mu.Unlock()
	if c.run.recording.Load() {
		c.rec.done(time.Duration(now-start), err)
	}
}

// close ends the connection; readLoop returns. A TLS connection's socket is
// closed under it, without a close_notify alert: sending one could wait on a
// server that has stopped reading.
func (c *h2Conn) close() {
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.NetConn().Close()
		return
	}
	c.nc.Close()
}
