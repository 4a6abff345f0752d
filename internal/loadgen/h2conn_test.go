package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// offlineConn is an h2Conn whose writes go nowhere, for driving its
// bookkeeping directly.
func offlineConn(t *testing.T, inFlight int, closedLoop bool) *h2Conn {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c, err := newH2Conn(a, target{addr: "127.0.0.1:1", method: echoMethod, request: testRequest}, &runState{base: time.Now()}, inFlight, closedLoop)
	if err != nil {
		t.Fatal(err)
	}
	c.bw = bufio.NewWriter(io.Discard)
	return c
}

func (c *h2Conn) counts() (inFlight, waiting int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight, len(c.waiting) - c.waitHead
}

// A response that falls a whole ring behind holds the next request back,
// but only until it arrives: then everything waiting goes out.
func TestSlowStreamDelaysButNeverStallsTheClosedLoop(t *testing.T) {
	c := offlineConn(t, 2, true)
	c.sendWindow = 1 << 40 // no flow control in this test
	h2Driver{c}.start(2)   // streams 1 and 3
	slow := uint32(1)
	id := uint32(3)
	for range len(c.streams) - 1 { // stream 1 is overtaken until its slot comes round again
		c.finish(id, nil)
		id += 2
	}
	if inFlight, waiting := c.counts(); inFlight != 1 || waiting != 1 {
		t.Fatalf("with the ring full: %d in flight, %d waiting; want 1 and 1", inFlight, waiting)
	}
	c.finish(slow, nil)
	if inFlight, waiting := c.counts(); inFlight != 2 || waiting != 0 {
		t.Errorf("after the slow response: %d in flight, %d waiting; want 2 and 0", inFlight, waiting)
	}
}

func TestFlowControlHoldsRequestsUntilWindowUpdate(t *testing.T) {
	c := offlineConn(t, 1024, false)
	per := c.bodyLen
	fits := int(defaultWindow / per)
	d := h2Driver{c}
	for range fits + 3 {
		d.offer(c.run.now())
	}
	if inFlight, waiting := c.counts(); inFlight != fits || waiting != 3 {
		t.Fatalf("%d in flight, %d waiting; want %d and 3", inFlight, waiting, fits)
	}
	update := []byte{0, 0, 0x10, 0} // +4096 bytes
	if err := c.handle(frameHeader{length: 4, typ: frameWindowUpdate}, update); err != nil {
		t.Fatal(err)
	}
	if inFlight, waiting := c.counts(); inFlight != fits+3 || waiting != 0 {
		t.Errorf("after WINDOW_UPDATE: %d in flight, %d waiting; want %d and 0", inFlight, waiting, fits+3)
	}
}

func TestSettingsLowerTheInFlightCap(t *testing.T) {
	c := offlineConn(t, 32, true)
	settings := []byte{0, settingMaxConcurrentStreams, 0, 0, 0, 5}
	if err := c.handle(frameHeader{length: 6, typ: frameSettings}, settings); err != nil {
		t.Fatal(err)
	}
	h2Driver{c}.start(32)
	if inFlight, waiting := c.counts(); inFlight != 5 || waiting != 27 {
		t.Errorf("%d in flight, %d waiting; want 5 and 27", inFlight, waiting)
	}
	tiny := []byte{0, settingInitialWindowSize, 0, 0, 0, 10}
	if err := c.handle(frameHeader{length: 6, typ: frameSettings}, tiny); err == nil {
		t.Error("a stream window smaller than the request was accepted")
	}
}

func TestRequestHeaderBlocksIndexOnceThenRefer(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		first, steady, err := requestHeaderBlocks(scheme, "127.0.0.1:9191", echoMethod)
		if err != nil {
			t.Fatal(err)
		}
		if len(steady) != 7 {
			t.Errorf("%s: steady block is %d bytes, want one per field (7)", scheme, len(steady))
		}
		dec := hpack.NewDecoder(4096, nil)
		want := map[string]string{":method": "POST", ":scheme": scheme, ":path": echoMethod, ":authority": "127.0.0.1:9191",
			"content-type": "application/grpc", "te": "trailers", "user-agent": "extauthz-loadgen"}
		for i, block := range [][]byte{first, steady, steady} {
			fields, err := dec.DecodeFull(block)
			if err != nil {
				t.Fatalf("%s: block %d: %v", scheme, i, err)
			}
			got := map[string]string{}
			for _, f := range fields {
				got[f.Name] = f.Value
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s: block %d decodes to %v, want %v", scheme, i, got, want)
			}
		}
	}
}

func TestOnlyTheFirstRequestCarriesTheIndexingBlock(t *testing.T) {
	c := offlineConn(t, 4, true)
	var out bytes.Buffer
	c.bw = bufio.NewWriter(&out)
	h2Driver{c}.start(2)
	c.bw.Flush()
	b := out.Bytes()
	var headerLens []int
	for len(b) >= frameHeaderLen {
		h := parseFrameHeader(b)
		if h.typ == frameHeaders {
			headerLens = append(headerLens, int(h.length))
		}
		b = b[frameHeaderLen+int(h.length):]
	}
	if len(headerLens) != 2 || headerLens[0] <= headerLens[1] || headerLens[1] != 7 {
		t.Errorf("HEADERS payloads %v, want a longer first block and then 7 bytes", headerLens)
	}
}

// Every way a response can fall short of a good gRPC answer counts as a
// failure, so that a broken server cannot look fast.
func TestResponseOutcomes(t *testing.T) {
	var enc bytes.Buffer
	block := func(fields ...string) []byte {
		enc.Reset()
		e := hpack.NewEncoder(&enc)
		for i := 0; i < len(fields); i += 2 {
			e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return bytes.Clone(enc.Bytes())
	}
	const eh, es = flagEndHeaders, flagEndStream
	frame := func(typ frameType, flags uint8, payload []byte) []byte {
		return appendFrame(nil, typ, flags, 1, payload)
	}
	ok200 := frame(frameHeaders, eh, block(":status", "200"))
	msg := frame(frameData, 0, grpcFrame(testResponse))
	trailers := func(code string) []byte { return frame(frameHeaders, eh|es, block("grpc-status", code)) }
	split := block(":status", "200", "content-type", "application/grpc")
	for _, c := range []struct {
		name   string
		frames [][]byte
		want   error // nil: a good response
	}{
		{"good", [][]byte{ok200, msg, trailers("0")}, nil},
		{"good, headers continued", [][]byte{frame(frameHeaders, 0, split[:2]), frame(frameContinuation, eh, split[2:]), msg, trailers("0")}, nil},
		{"trailers only, OK", [][]byte{frame(frameHeaders, eh|es, block(":status", "200", "grpc-status", "0"))}, errNoMessage},
		{"no trailers", [][]byte{ok200, frame(frameData, es, grpcFrame(testResponse))}, errNoStatus},
		{"trailers without grpc-status", [][]byte{ok200, msg, frame(frameHeaders, eh|es, block("x", "y"))}, errNoStatus},
		{"HTTP 503", [][]byte{frame(frameHeaders, eh, block(":status", "503")), msg, trailers("0")}, errHTTPStatus},
		{"grpc-status 14", [][]byte{ok200, trailers("14")}, statusError{14}},
		{"wrong body", [][]byte{ok200, frame(frameData, 0, grpcFrame([]byte("nope"))), trailers("0")}, errWrongBody},
		{"compressed body", [][]byte{ok200, frame(frameData, 0, append([]byte{1}, grpcFrame(testResponse)[1:]...)), trailers("0")}, errNoMessage},
		{"body split over frames", [][]byte{ok200, msg[:frameHeaderLen+3], trailers("0")}, errNoMessage},
		{"reset", [][]byte{ok200, frame(frameRSTStream, 0, []byte{0, 0, 0, 2})}, errReset},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := offlineConn(t, 4, false)
			conn.check = checkOK
			conn.run.recording.Store(true)
			h2Driver{conn}.offer(conn.run.now())
			for _, f := range c.frames {
				h := parseFrameHeader(f)
				h.length = uint32(len(f) - frameHeaderLen) // a cut frame is shorter than its header says
				if err := conn.handle(h, f[frameHeaderLen:]); err != nil {
					t.Fatal(err)
				}
			}
			r := conn.rec
			if r.ok+r.bad != 1 || r.hist.Count() != 1 {
				t.Fatalf("%d good and %d failed responses with %d latencies; want one in all", r.ok, r.bad, r.hist.Count())
			}
			if c.want == nil {
				if r.ok != 1 {
					t.Errorf("a good response failed: %v", r.firstErr)
				}
				return
			}
			if r.bad != 1 || !errors.Is(r.firstErr, c.want) {
				t.Errorf("failure %v, want %v", r.firstErr, c.want)
			}
		})
	}
}

// FuzzServerFrames feeds arbitrary frames, as a server could send them, to a
// connection with requests in flight: the client must never panic, and its
// books must stay consistent.
func FuzzServerFrames(f *testing.F) {
	// A good response on stream 1: HEADERS (:status 200 via the static
	// table), DATA with a gRPC message, trailers (grpc-status 0, literal).
	var good []byte
	good = appendFrame(good, frameHeaders, flagEndHeaders, 1, []byte{0x88})
	good = appendFrame(good, frameData, 0, 1, grpcFrame(testResponse))
	good = appendFrame(good, frameHeaders, flagEndHeaders|flagEndStream, 1, append([]byte{0x00, 11}, append([]byte("grpc-status"), 1, '0')...))
	f.Add(good)
	f.Add(appendFrame(nil, frameSettings, 0, 0, []byte{0, settingMaxConcurrentStreams, 0, 0, 0, 1}))
	f.Add(appendFrame(nil, frameWindowUpdate, 0, 0, []byte{0, 0, 1, 0}))
	f.Add(appendFrame(nil, frameRSTStream, 0, 3, []byte{0, 0, 0, 8}))
	f.Add(appendFrame(nil, frameHeaders, flagPadded, 1, []byte{3, 0x88}))
	f.Add(appendFrame(appendFrame(nil, frameHeaders, 0, 1, []byte{0x88}), frameContinuation, flagEndHeaders|flagEndStream, 1, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := offlineConn(t, 4, true)
		c.check = checkOK
		c.run.recording.Store(true)
		h2Driver{c}.start(4)
		for len(b) >= frameHeaderLen {
			h := parseFrameHeader(b)
			b = b[frameHeaderLen:]
			n := min(int(h.length), len(b), maxFrameSize)
			h.length = uint32(n)
			if err := c.handle(h, b[:n]); err != nil {
				break // a connection error ends the connection
			}
			b = b[n:]
		}
		inFlight, waiting := c.counts()
		if inFlight < 0 || inFlight > 4 || waiting < 0 {
			t.Errorf("%d in flight, %d waiting", inFlight, waiting)
		}
		if c.rec.ok+c.rec.bad != c.rec.hist.Count() {
			t.Errorf("%d + %d completions but %d latencies", c.rec.ok, c.rec.bad, c.rec.hist.Count())
		}
	})
}
