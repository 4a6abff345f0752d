package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Client selects how requests are sent.
type Client string

const (
	// ClientH2 is this package's HTTP/2 client: pre-encoded frames, one
	// goroutine per connection, no allocation per request. The default.
	ClientH2 Client = "h2"
	// ClientGRPC is grpc-go's own client with a CodecV2 that passes bytes
	// through (no message is marshalled or unmarshalled): the cheapest way
	// to use grpc-go, for comparison.
	ClientGRPC Client = "grpc"
)

// ErrOptions is wrapped by every problem Run finds in its Options.
var ErrOptions = errors.New("loadgen: invalid options")

// Options describes one run.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// TLS, when set, makes every connection speak TLS with a copy of this
	// configuration that offers only h2 by ALPN (the server must select
	// it); its ServerName defaults to Addr's host. Give it the roots that
	// verify the server and, for mutual TLS, Certificates. Nil is cleartext
	// HTTP/2 (h2c).
	TLS *tls.Config
	// Method is the gRPC method path, e.g. /pkg.Service/Method.
	Method string
	// Request is the serialized request message, sent unchanged every time.
	Request []byte
	// Check validates a serialized response message; a non-nil error
	// counts the response as failed. It must be cheap and must not keep
	// the slice. Nil accepts every response with grpc-status 0.
	Check func(msg []byte) error
	// Client picks the client; default ClientH2.
	Client Client
	// Conns is the number of HTTP/2 connections; default 1.
	Conns int
	// InFlight is, in closed loop, the number of requests each connection
	// keeps outstanding; in open loop, the most a connection may have
	// outstanding before further requests wait (default 1024 there; the
	// grpc client caps it at 128).
	InFlight int
	// Rate, when positive, makes the run open loop: Rate requests per
	// second over all connections, sent on schedule whatever the server
	// does. Zero is closed loop.
	Rate float64
	// Settle is load applied before the measured window and not recorded.
	Settle time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Drain bounds the wait, after the window, for the requests still in
	// flight; default 2 s. Those unanswered by then count in
	// Result.Unanswered.
	Drain time.Duration
	// WindowStart and WindowEnd, if set, are called just before the
	// window opens and just after it closes (e.g. to read the server's CPU
	// time). Their own cost is outside the generator's measured CPU.
	WindowStart, WindowEnd func()
}

// Option defaults.
const (
	// defaultOpenInFlight caps a connection's outstanding requests in
	// open loop.
	defaultOpenInFlight = 1024
	// defaultDrain bounds the wait for requests in flight after the window.
	defaultDrain = 2 * time.Second
)

func (o Options) withDefaults() (Options, error) {
	if o.Client == "" {
		o.Client = ClientH2
	}
	if o.Conns == 0 {
		o.Conns = 1
	}
	if o.InFlight == 0 && o.Rate > 0 {
		o.InFlight = defaultOpenInFlight
	}
	if o.Drain == 0 {
		o.Drain = defaultDrain
	}
	var errs []error
	if o.Addr == "" || o.Method == "" {
		errs = append(errs, fmt.Errorf("%w: Addr and Method are required", ErrOptions))
	}
	if o.Client != ClientH2 && o.Client != ClientGRPC {
		errs = append(errs, fmt.Errorf("%w: unknown client %q", ErrOptions, o.Client))
	}
	if o.Conns < 1 || o.InFlight < 1 {
		errs = append(errs, fmt.Errorf("%w: need at least one connection and one request in flight", ErrOptions))
	}
	if o.Rate < 0 || o.Duration <= 0 || o.Settle < 0 || o.Drain < 0 {
		errs = append(errs, fmt.Errorf("%w: Rate, Settle and Drain must not be negative and Duration must be positive", ErrOptions))
	}
	return o, errors.Join(errs...)
}

// Result is what one run measured. Counts and latencies cover responses that
// completed inside the measured window.
type Result struct {
	// Requests counts good responses; Errors counts failed ones (transport,
	// gRPC status, or Check). FirstError is one of the failures.
	Requests, Errors uint64
	FirstError       error
	// Dropped counts open-loop requests never sent because a connection's
	// backlog was full: the server was far behind the offered rate.
	Dropped uint64
	// Unanswered counts requests sent or queued (in the window or before
	// it) that had no complete response when the run ended, Drain after
	// the window: a server that stops answering shows here, not in Errors
	// or Latency.
	Unanswered uint64
	// Elapsed is the measured window's real length.
	Elapsed time.Duration
	// Latency holds every completed request's latency, from the moment its
	// frames were queued for sending to the moment its last frame was
	// read. It includes failed requests.
	Latency *Histogram
	// Lag is, in open loop, how late each request was sent against its
	// schedule (the pacer wakes in ticks); empty in closed loop.
	Lag *Histogram
	// CPU is the user+system CPU time of this whole process during the
	// window: the generator's cost.
	CPU time.Duration
}

// Throughput is good responses per second of window.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// CPUPerRequest is the generator's CPU time per completed request.
func (r Result) CPUPerRequest() time.Duration {
	n := r.Requests + r.Errors
	if n == 0 {
		return 0
	}
	return r.CPU / time.Duration(n)
}

// runState is shared by every goroutine of a run.
type runState struct {
	base      time.Time
	recording atomic.Bool // completions are recorded
	stopping  atomic.Bool // no new closed-loop requests
}

// now is the run clock: monotonic nanoseconds since the run began.
func (r *runState) now() int64 { return int64(time.Since(r.base)) }

// recorder collects one goroutine's completions.
type recorder struct {
	hist     Histogram
	ok, bad  uint64
	firstErr error
}

func (r *recorder) done(d time.Duration, err error) {
	r.hist.Record(d)
	if err == nil {
		r.ok++
		return
	}
	r.bad++
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// addTo merges r into res.
func (r *recorder) addTo(res *Result) {
	res.Latency.Merge(&r.hist)
	res.Requests += r.ok
	res.Errors += r.bad
	if res.FirstError == nil {
		res.FirstError = r.firstErr
	}
}

// target is what every connection sends.
type target struct {
	addr, method string
	request      []byte
	check        func([]byte) error
	tls          *tls.Config // nil: cleartext
}

// scheme is the :scheme of the target's requests.
func (t target) scheme() string {
	if t.tls != nil {
		return "https"
	}
	return "http"
}

// clientTLS is cfg as every connection to addr uses it: a copy that offers
// h2 alone by ALPN and names addr's host when cfg names no server. Nil
// stays nil (cleartext).
func clientTLS(cfg *tls.Config, addr string) *tls.Config {
	if cfg == nil {
		return nil
	}
	c := cfg.Clone()
	c.NextProtos = []string{"h2"}
	if c.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			c.ServerName = host
		}
	}
	return c
}

// conn is one connection of either client, as the run drives it.
type conn interface {
	// serve runs the connection's own goroutines until close; it returns
	// the first failure, or nil after close.
	serve() error
	// start puts n requests in flight at once (closed loop).
	start(n int)
	// offer sends, or queues, one request due now (open loop); flush
	// pushes out what offer buffered.
	offer(now int64)
	flush()
	// pending is how many requests are in flight or waiting.
	pending() int
	// close stops the connection and its goroutines.
	close()
	// addTo merges the connection's records into res; call after serve
	// has returned.
	addTo(res *Result)
}

// Run connects, applies the load for Settle and then for the measured
// Duration, waits for what is in flight, and reports the window.
func Run(ctx context.Context, o Options) (Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	run := &runState{base: time.Now()}
	t := target{addr: o.Addr, method: o.Method, request: o.Request, check: o.Check, tls: clientTLS(o.TLS, o.Addr)}
	closedLoop := o.Rate == 0
	conns := make([]conn, 0, o.Conns)
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	for range o.Conns {
		c, err := dial(ctx, o.Client, t, run, o.InFlight, closedLoop)
		if err != nil {
			return Result{}, err
		}
		conns = append(conns, c)
	}

	var wg sync.WaitGroup
	failures := make(chan error, len(conns)+1)
	for _, c := range conns {
		wg.Go(func() {
			if err := c.serve(); err != nil && !run.stopping.Load() {
				failures <- err
			}
		})
	}
	res := Result{Latency: new(Histogram), Lag: new(Histogram)}
	if closedLoop {
		for _, c := range conns {
			c.start(o.InFlight)
		}
	} else {
		tick, err := newTicker(tickInterval(o.Rate))
		if err != nil {
			run.stopping.Store(true)
			return Result{}, err
		}
		defer tick.close()
		wg.Go(func() { pace(run, o.Rate, conns, tick, res.Lag) })
	}

	err = measure(ctx, run, o, &res, failures)
	run.stopping.Store(true)
	deadline := time.Now().Add(o.Drain)
	for pending(conns) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	res.Unanswered = uint64(pending(conns))
	for _, c := range conns {
		c.close()
	}
	wg.Wait()
	for _, c := range conns {
		c.addTo(&res)
	}
	conns = nil
	return res, err
}

// measure sleeps through Settle, then opens the window for Duration,
// unless a connection fails or ctx ends first.
func measure(ctx context.Context, run *runState, o Options, res *Result, failures <-chan error) error {
	wait := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case err := <-failures:
			return fmt.Errorf("loadgen: %s: %w", o.Addr, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(o.Settle); err != nil {
		return err
	}
	if o.WindowStart != nil {
		o.WindowStart()
	}
	cpu0 := processCPU()
	t0 := time.Now()
	run.recording.Store(true)
	err := wait(o.Duration)
	run.recording.Store(false)
	res.Elapsed = time.Since(t0)
	res.CPU = processCPU() - cpu0
	if o.WindowEnd != nil {
		o.WindowEnd()
	}
	return err
}

// pending is how many requests the connections have in flight or waiting.
func pending(conns []conn) int {
	n := 0
	for _, c := range conns {
		n += c.pending()
	}
	return n
}

// dial opens one connection of the chosen client.
func dial(ctx context.Context, client Client, t target, run *runState, inFlight int, closedLoop bool) (conn, error) {
	if client == ClientGRPC {
		return dialGRPC(ctx, t, run, inFlight, closedLoop)
	}
	c, err := dialH2(ctx, t, run, inFlight, closedLoop)
	if err != nil {
		return nil, err
	}
	return h2Driver{c}, nil
}

// Pacing: the pacer wakes every tickInterval and sends every request due by
// then, spread over the connections in turn. Ticks are at least
// minTick apart because every wake-up costs the generator CPU (about 25 µs
// on a small VM), so above 1/minTick requests per second a tick sends a
// few at once; Result.Lag shows how late that made them.
const (
	minTick = 200 * time.Microsecond
	maxTick = time.Millisecond
)

// tickInterval is the pacer's period for rate requests per second.
func tickInterval(rate float64) time.Duration {
	d := time.Duration(float64(time.Second) / rate)
	return min(max(d, minTick), maxTick)
}

// ticker wakes the pacer periodically.
type ticker interface {
	wait() error
	close()
}

// pace sends requests on schedule until the run stops: request k is due at
// k/rate seconds after pacing began.
func pace(run *runState, rate float64, conns []conn, tick ticker, lag *Histogram) {
	interval := float64(time.Second) / rate
	t0 := run.now()
	sent := int64(0)
	for !run.stopping.Load() {
		if err := tick.wait(); err != nil {
			return
		}
		now := run.now()
		due := int64(float64(now-t0)/interval) + 1
		recording := run.recording.Load()
		for ; sent < due; sent++ {
			if recording {
				lag.Record(time.Duration(now - t0 - int64(float64(sent)*interval)))
			}
			conns[sent%int64(len(conns))].offer(now)
		}
		for _, c := range conns {
			c.flush()
		}
	}
}

// h2Driver adapts an h2Conn to conn.
type h2Driver struct{ c *h2Conn }

func (d h2Driver) serve() error { return d.c.readLoop() }

func (d h2Driver) start(n int) {
	d.c.mu.Lock()
	now := d.c.run.now()
	for range n {
		d.c.offerLocked(now)
	}
	d.c.mu.Unlock()
	d.c.flush()
}

func (d h2Driver) offer(now int64) {
	d.c.mu.Lock()
	d.c.offerLocked(now)
	d.c.mu.Unlock()
}

func (d h2Driver) flush()       { d.c.flush() }
func (d h2Driver) pending() int { return d.c.pending() }
func (d h2Driver) close()       { d.c.close() }

func (d h2Driver) addTo(res *Result) {
	d.c.rec.addTo(res)
	d.c.mu.Lock()
	res.Dropped += d.c.dropped
	d.c.mu.Unlock()
}
