package loadgen

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
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
