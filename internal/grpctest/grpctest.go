// Package grpctest serves gRPC for tests: a server on a loopback port for
// the lifetime of a test, and a codec that puts any bytes on the wire.
package grpctest

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
)

// Serve runs g on 127.0.0.1 (an ephemeral port) until the test ends, when
// it stops g and fails the test if Serve failed, and returns a plaintext
// client connection to it, closed at the end too.
func Serve(t testing.TB, g *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	t.Cleanup(func() {
		g.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// RawCodec lets a client send and receive message bytes as they are, to put
// malformed messages on the wire: use it with grpc.ForceCodecV2 and pass a
// *[]byte as each message.
type RawCodec struct{}

// Name is "proto", so that the server decodes with its usual codec.
func (RawCodec) Name() string { return "proto" }

// Marshal sends the bytes v (a *[]byte) points to.
func (RawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

// Unmarshal copies the message into v (a *[]byte).
func (RawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}
