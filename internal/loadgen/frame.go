package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The HTTP/2 pieces (RFC 9113) this package's client speaks. Only what a
// unary gRPC call over HTTP/2 (cleartext, or TLS with ALPN h2) needs is
// here.
const (
	clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

	frameHeaderLen = 9
	// maxFrameSize is the largest frame payload a peer may send before it
	// learns otherwise: the RFC's default, which this client never raises.
	maxFrameSize = 16384
	// defaultWindow is every flow-control window's size at the start.
	defaultWindow = 65535
)

// frameType is an HTTP/2 frame type.
type frameType uint8

const (
	frameData         frameType = 0x0
	frameHeaders      frameType = 0x1
	frameRSTStream    frameType = 0x3
	frameSettings     frameType = 0x4
	framePushPromise  frameType = 0x5
	framePing         frameType = 0x6
	frameGoAway       frameType = 0x7
	frameWindowUpdate frameType = 0x8
	frameContinuation frameType = 0x9
)

// Frame flags. The same bit means different things on different frames.
const (
	flagEndStream  = 0x1 // DATA, HEADERS
	flagAck        = 0x1 // SETTINGS, PING
	flagEndHeaders = 0x4 // HEADERS, CONTINUATION
	flagPadded     = 0x8 // DATA, HEADERS
	flagPriority   = 0x20
)

// SETTINGS parameters this client reads or sends.
const (
	settingEnablePush           = 0x2
	settingMaxConcurrentStreams = 0x3
	settingInitialWindowSize    = 0x4
)

// frameHeader is a parsed 9-byte frame header.
type frameHeader struct {
	length   uint32
	typ      frameType
	flags    uint8
	streamID uint32
}

// parseFrameHeader reads the 9-byte header at the start of b.
func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:      frameType(b[3]),
		flags:    b[4],
		streamID: binary.BigEndian.Uint32(b[5:9]) & 0x7fffffff,
	}
}

// appendFrame appends a frame with the given header fields and payload.
func appendFrame(dst []byte, typ frameType, flags uint8, streamID uint32, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, byte(n>>16), byte(n>>8), byte(n), byte(typ), flags)
	dst = binary.BigEndian.AppendUint32(dst, streamID&0x7fffffff)
	return append(dst, payload...)
}

// setStreamID rewrites the stream id of the frame starting at frame[0].
func setStreamID(frame []byte, id uint32) { binary.BigEndian.PutUint32(frame[5:9], id) }

// errProtocol is wrapped by every malformed-frame error.
var errProtocol = errors.New("http2 protocol error")

// unpad strips the padding (and, for HEADERS, the priority fields) from a
// DATA or HEADERS payload.
func unpad(h frameHeader, p []byte) ([]byte, error) {
	if h.flags&flagPadded != 0 {
		if len(p) < 1 || int(p[0]) > len(p)-1 {
			return nil, fmt.Errorf("%w: bad padding on frame type %d", errProtocol, h.typ)
		}
		p = p[1 : len(p)-int(p[0])]
	}
	if h.typ == frameHeaders && h.flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, fmt.Errorf("%w: short HEADERS priority", errProtocol)
		}
		p = p[5:]
	}
	return p, nil
}

// grpcFrame is msg with gRPC's 5-byte length prefix (not compressed).
func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// grpcMessage returns the message inside one complete, uncompressed gRPC
// length-prefixed frame, or false.
func grpcMessage(b []byte) ([]byte, bool) {
	if len(b) < 5 || b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != len(b)-5 {
		return nil, false
	}
	return b[5:], true
}
