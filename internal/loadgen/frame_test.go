package loadgen

import (
	"bytes"
	"errors"
	"testing"
)

func TestFrameHeaderRoundTrip(t *testing.T) {
	f := appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, 0x7fffffff, []byte("abc"))
	setStreamID(f, 41)
	h := parseFrameHeader(f)
	if h != (frameHeader{length: 3, typ: frameHeaders, flags: flagEndHeaders | flagEndStream, streamID: 41}) {
		t.Errorf("parsed %+v", h)
	}
	if !bytes.Equal(f[frameHeaderLen:], []byte("abc")) {
		t.Errorf("payload %q", f[frameHeaderLen:])
	}
	// The reserved bit is ignored on read.
	f[5] |= 0x80
	if got := parseFrameHeader(f).streamID; got != 41 {
		t.Errorf("stream id with the reserved bit set = %d", got)
	}
}

func TestUnpad(t *testing.T) {
	data := frameHeader{typ: frameData, flags: flagPadded}
	if p, err := unpad(data, []byte{2, 'h', 'i', 0, 0}); err != nil || string(p) != "hi" {
		t.Errorf("padded DATA: %q, %v", p, err)
	}
	if _, err := unpad(data, []byte{9, 'h'}); !errors.Is(err, errProtocol) {
		t.Errorf("padding longer than the frame: %v", err)
	}
	hdrs := frameHeader{typ: frameHeaders, flags: flagPadded | flagPriority}
	if p, err := unpad(hdrs, []byte{1, 0, 0, 0, 3, 16, 'x', 0}); err != nil || string(p) != "x" {
		t.Errorf("padded HEADERS with priority: %q, %v", p, err)
	}
	if _, err := unpad(frameHeader{typ: frameHeaders, flags: flagPriority}, []byte{1}); !errors.Is(err, errProtocol) {
		t.Errorf("short priority: %v", err)
	}
}

func TestGRPCMessageFraming(t *testing.T) {
	framed := grpcFrame([]byte("hello"))
	if msg, ok := grpcMessage(framed); !ok || string(msg) != "hello" {
		t.Errorf("round trip: %q %v", msg, ok)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, append([]byte{1}, framed[1:]...), framed[:len(framed)-1]} {
		if _, ok := grpcMessage(bad); ok {
			t.Errorf("grpcMessage(%x) accepted a broken frame", bad)
		}
	}
}

func TestTickInterval(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want string
	}{{100, "1ms"}, {1000, "1ms"}, {2000, "500µs"}, {5000, "200µs"}, {50000, "200µs"}} {
		if got := tickInterval(c.rate).String(); got != c.want {
			t.Errorf("tickInterval(%v) = %s, want %s", c.rate, got, c.want)
		}
	}
}
