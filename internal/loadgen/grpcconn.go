package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
)

// rawMessage is a message already in its wire form.
type rawMessage struct{ b []byte }

// rawCodec passes rawMessage bytes through unchanged, so grpc-go neither
// marshals the request nor unmarshals the response. It is named "proto" so
// that the server's proto codec answers.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("loadgen: rawCodec cannot marshal %T", v)
	}
	// A SliceBuffer's Free is a no-op, so every call may share m.b.
	return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("loadgen: rawCodec cannot unmarshal into %T", v)
	}
	m.b = m.b[:0]
	for _, b := range data {
		m.b = append(m.b, b.ReadOnlyData()...)
	}
	return nil
}

// maxGRPCOpenWorkers caps the grpc client's requests in flight per
// connection in open loop.
const maxGRPCOpenWorkers = 128

// grpcConn is one grpc-go ClientConn (one HTTP/2 connection) with its
// workers: in closed loop each worker keeps one request in flight; in open
// loop the pacer hands start times to the workers through a channel.
type grpcConn struct {
	cc       *grpc.ClientConn
	t        target
	run      *runState
	req      *rawMessage
	workers  int
	open     chan int64   // open loop: due requests
	queued   atomic.Int64 // open loop: requests offered and not yet taken by a worker
	inFlight atomic.Int64
	ctx      context.Context
	cancel   context.CancelFunc
	recs     []recorder
	wg       sync.WaitGroup
	dropped  atomic.Uint64
}

func dialGRPC(ctx context.Context, t target, run *runState, inFlight int, closedLoop bool) (*grpcConn, error) {
	creds := insecure.NewCredentials()
	if t.tls != nil {
		creds = credentials.NewTLS(t.tls)
	}
	cc, err := grpc.NewClient("passthrough:///"+t.addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s: %w", t.addr, err)
	}
	cc.Connect()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		if s == connectivity.TransientFailure || !cc.WaitForStateChange(ctx, s) {
			cc.Close()
			return nil, fmt.Errorf("loadgen: %s: connection %v", t.addr, s)
		}
	}
	if !closedLoop {
		// Every worker owns a histogram; in open loop a few dozen
		// workers per connection are plenty for this comparison client.
		inFlight = min(inFlight, maxGRPCOpenWorkers)
	}
	c := &grpcConn{cc: cc, t: t, run: run, req: &rawMessage{b: t.request}, workers: inFlight,
		recs: make([]recorder, inFlight)}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if !closedLoop {
		c.open = make(chan int64, maxWaiting)
		c.launch()
	}
	return c, nil
}

// launch starts the workers.
func (c *grpcConn) launch() {
	for i := range c.workers {
		c.wg.Go(func() { c.work(&c.recs[i]) })
	}
}

// work sends requests until the run stops: back to back in closed loop, as
// the pacer hands them out in open loop.
func (c *grpcConn) work(rec *recorder) {
	resp := &rawMessage{}
	for {
		// A request is counted in flight before the stop check, and before
		// it leaves the queue count, so that pending never misses one.
		var start int64
		if c.open == nil {
			c.inFlight.Add(1)
			if c.run.stopping.Load() {
				c.inFlight.Add(-1)
				return
			}
			start = c.run.now()
		} else {
			select {
			case start = <-c.open:
				c.inFlight.Add(1)
				c.queued.Add(-1)
			case <-c.ctx.Done():
				return
			}
		}
		err := c.cc.Invoke(c.ctx, c.t.method, c.req, resp)
		if err == nil && c.t.check != nil {
			err = c.t.check(resp.b)
		}
		now := c.run.now()
		c.inFlight.Add(-1)
		if c.run.recording.Load() {
			rec.done(time.Duration(now-start), err)
		}
	}
}

func (c *grpcConn) serve() error {
	<-c.ctx.Done()
	return nil
}

func (c *grpcConn) start(n int) {
	c.workers = min(n, len(c.recs))
	c.launch()
}

func (c *grpcConn) offer(now int64) {
	c.queued.Add(1)
	select {
	case c.open <- now:
	default:
		c.queued.Add(-1)
		c.dropped.Add(1)
	}
}

func (c *grpcConn) flush() {}

func (c *grpcConn) pending() int {
	return int(c.inFlight.Load() + c.queued.Load())
}

func (c *grpcConn) close() {
	c.cancel()
	c.wg.Wait()
	c.cc.Close()
}

func (c *grpcConn) addTo(res *Result) {
	for i := range c.recs {
		c.recs[i].addTo(res)
	}
	res.Dropped += c.dropped.Load()
}
