package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/emulator"
	"extauthz/internal/loadgen"
)

// warmupWindow is the recorded tail of a warm-up (Run needs a window; the
// result is discarded).
const warmupWindow = 100 * time.Millisecond

// session is one benchmark from build to report.
type session struct {
	cfg      *config
	progress io.Writer
	servers  map[string]*server
	requests map[string][]byte // each server kind's request, encoded
	runs     []runResult
	notes    []string
	retried  int // windows measured again because other work disturbed them
}

// bench runs the whole benchmark and writes the report to stdout.
func bench(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	if bi, ok := debug.ReadBuildInfo(); ok && instrumentation(bi) != "" {
		return fmt.Errorf("this authzbench was built with %s, which would slow its baseline server and load generator; run it as go run ./cmd/authzbench", instrumentation(bi))
	}
	started := time.Now()
	s := &session{cfg: cfg, progress: stderr, servers: map[string]*server{}, requests: map[string][]byte{}}
	rep := &report{cfg: cfg, info: collectSysInfo(), loadStart: loadAverage(), responseBytes: map[string]int{}, requestBytes: map[string]int{}, peakRSS: map[string]int64{}}
	rep.command = reproduceCommand(os.Args[1:])

	dir, err := os.MkdirTemp("", "authzbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l := launch{dir: dir}
	if l.self, err = os.Executable(); err != nil {
		return err
	}
	needExtauthz := slices.ContainsFunc(cfg.servers, func(k string) bool { return k != serverBaseline })
	rep.revision = "the binary given with -extauthz"
	if l.extauthz = cfg.extauthzBin; l.extauthz == "" && needExtauthz {
		s.logf("building ./cmd/extauthz")
		if l.extauthz, rep.revision, err = buildExtauthz(ctx, dir); err != nil {
			return err
		}
	}

	// Every WIF server gets an emulator of its own, so that the exchanges
	// the report follows are the WIF server's alone.
	var emu *emulator.Emulator
	var watch *exchangeWatch
	l.emulatorEnv = map[string]map[string]string{}
	for _, kind := range cfg.servers {
		if !isWIF(kind) {
			continue
		}
		logFile, err := os.Create(filepath.Join(dir, "emulator-"+kind+".log"))
		if err != nil {
			return err
		}
		defer logFile.Close()
		e, err := emulator.Start(ctx, emulator.Options{TokenLifetime: cfg.tokenLifetime,
			Logger: slog.New(slog.NewJSONHandler(logFile, nil))})
		if err != nil {
			return err
		}
		defer e.Close()
		l.emulatorEnv[kind] = e.Env()
		if kind == serverWIF {
			emu = e
			wctx, stopWatch := context.WithCancel(ctx)
			defer stopWatch()
			watch = watchExchanges(wctx, func() int { return emu.Stats().Exchanges }, 100*time.Millisecond)
		}
	}
	if slices.Contains(cfg.servers, serverWIFTLS) {
		if l.pki, err = newBenchPKI(dir); err != nil {
			return err
		}
	}

	if cfg.pin {
		if err := s.pin(); err != nil {
			return err
		}
		l.pinCPUs = cfg.serverCPUs
	}
	l.goEnv, rep.goEnv = serverGoEnv(cfg)

	for _, kind := range cfg.servers {
		s.logf("starting %s", serverLabels[kind])
		srv, err := startServer(ctx, kind, l)
		if err != nil {
			return err
		}
		defer srv.stop()
		s.servers[kind] = srv
	}

	for _, kind := range cfg.servers {
		req := requestFor(kind, cfg.clientBeta)
		if s.requests[kind], err = encodeRequest(req); err != nil {
			return err
		}
		rep.requestBytes[kind], rep.requestHeaders = len(s.requests[kind]), len(req.GetAttributes().GetRequest().GetHttp().GetHeaders())
		n, tlsState, err := s.preflight(ctx, kind, req)
		if err != nil {
			return err
		}
		rep.responseBytes[kind] = n
		if tlsState != nil {
			rep.tls = fmt.Sprintf("%s, %s", tls.VersionName(tlsState.Version), tls.CipherSuiteName(tlsState.CipherSuite))
		}
	}

	if cfg.warmup > 0 {
		for _, kind := range cfg.servers {
			s.logf("warming up %s for %s", serverLabels[kind], cfg.warmup)
			sh := cfg.shapes[0]
			if _, err := loadgen.Run(ctx, s.loadOptions(s.servers[kind], sh, 0, cfg.warmup, warmupWindow)); err != nil {
				return fmt.Errorf("warming up %s: %w", kind, err)
			}
		}
	}
	for _, sh := range cfg.shapes {
		for round := range cfg.rounds {
			for _, kind := range roundOrder(cfg.servers, round) {
				if err := s.measure(ctx, kind, sh, 0, round, cfg.duration); err != nil {
					return err
				}
			}
		}
	}
	open := shape{name: "open loop", conns: cfg.rateConns}
	for _, rate := range cfg.rates {
		for round := range cfg.rounds {
			for _, kind := range roundOrder(cfg.servers, round) {
				if err := s.measure(ctx, kind, open, rate, round, cfg.rateDuration); err != nil {
					return err
				}
			}
		}
	}

	for kind, srv := range s.servers {
		if rss, err := peakRSS(srv.pid); err == nil {
			rep.peakRSS[kind] = rss
		}
	}
	if emu != nil {
		rep.exchanges = s.exchangeSummary(ctx, emu, watch)
	}
	rep.runs, rep.notes, rep.retried = s.runs, s.notes, s.retried
	rep.loadEnd, rep.elapsed = loadAverage(), time.Since(started)

	rep.write(stdout)
	if cfg.markdownPath != "" {
		if err := writeFile(cfg.markdownPath, rep.write); err != nil {
			return err
		}
	}
	if cfg.svgPath != "" && len(cfg.rates) > 0 {
		title := "ext_authz Check latency against load"
		sub := fmt.Sprintf("open loop over %d connections; hollow: closed-loop maximum (%s); %s, %d CPUs",
			cfg.rateConns, cfg.shapes[0], rep.info.cpuModel, rep.info.cpus)
		err := writeFile(cfg.svgPath, func(w io.Writer) {
			if err := writeSVG(w, title, sub, rep.plotSeries()); err != nil {
				s.logf("writing the plot: %v", err)
			}
		})
		if err != nil {
			return err
		}
		s.logf("wrote %s", cfg.svgPath)
	}
	return nil
}

// reproduceCommand is the command line that repeats this run, each
// argument quoted for a POSIX shell where it needs it.
func reproduceCommand(args []string) string {
	parts := []string{"go", "run", "./cmd/authzbench"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// writeFile creates path (and its directory) and fills it with write.
func writeFile(path string, write func(io.Writer)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	write(f)
	return f.Close()
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.progress, "authzbench: "+format+"\n", args...)
}

// pin moves this process (the load generator) onto the load CPUs, after
// checking that every CPU named is available.
func (s *session) pin() error {
	if !pinningSupported {
		return errors.New("pinning is not supported here; run with -pin=false")
	}
	avail, err := affinity(0)
	if err != nil {
		return err
	}
	for _, cpu := range append(slices.Clone(s.cfg.serverCPUs), s.cfg.loadCPUs...) {
		if !slices.Contains(avail, cpu) {
			return fmt.Errorf("CPU %d is not available to this process (available: %s); choose others with -server-cpus and -load-cpus, or -pin=false", cpu, cpuListString(avail))
		}
	}
	return pinSelf(s.cfg.loadCPUs)
}

// serverGoEnv is the Go runtime environment every server gets, and a
// description of it for the report.
func serverGoEnv(cfg *config) ([]string, string) {
	var env, desc []string
	if cfg.serverProcs > 0 {
		env = append(env, fmt.Sprintf("GOMAXPROCS=%d", cfg.serverProcs))
		desc = append(desc, fmt.Sprintf("GOMAXPROCS=%d", cfg.serverProcs))
	} else {
		desc = append(desc, fmt.Sprintf("GOMAXPROCS default (%d)", runtime.NumCPU()))
	}
	if cfg.gogc != "" {
		env = append(env, "GOGC="+cfg.gogc)
		desc = append(desc, "GOGC="+cfg.gogc)
	} else {
		desc = append(desc, "GOGC unset (100)")
	}
	if cfg.gomemlimit != "" {
		env = append(env, "GOMEMLIMIT="+cfg.gomemlimit)
		desc = append(desc, "GOMEMLIMIT="+cfg.gomemlimit)
	} else {
		desc = append(desc, "GOMEMLIMIT unset")
	}
	return env, strings.Join(desc, ", ") + " (as set in the environment; a binary may change its own at run time)"
}

// preflight sends one typed Check to a server and verifies the whole
// response before any load, then that the cheap check used on every
// response under load agrees. It returns the response's size and, over TLS,
// the connection's state.
func (s *session) preflight(ctx context.Context, kind string, req *authv3.CheckRequest) (int, *tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var p peer.Peer
	resp, err := authv3.NewAuthorizationClient(s.servers[kind].conn).Check(ctx, req, grpc.Peer(&p))
	if err != nil {
		return 0, nil, fmt.Errorf("preflight Check on %s: %w", kind, err)
	}
	want := wantFor(kind, s.cfg.clientBeta)
	if err := checkShape(resp, want); err != nil {
		return 0, nil, fmt.Errorf("preflight Check on %s: %w", kind, err)
	}
	b, err := proto.Marshal(resp)
	if err != nil {
		return 0, nil, err
	}
	if err := want.check(b); err != nil {
		return 0, nil, fmt.Errorf("preflight on %s: the load-time check rejects a good response: %w", kind, err)
	}
	var state *tls.ConnectionState
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		state = &info.State
	}
	return len(b), state, nil
}

// loadOptions is one run's load against srv.
func (s *session) loadOptions(srv *server, sh shape, rate float64, settle, window time.Duration) loadgen.Options {
	o := loadgen.Options{Addr: srv.grpcAddr, TLS: srv.tls, Method: checkMethod, Request: s.requests[srv.kind], Check: wantFor(srv.kind, s.cfg.clientBeta).check,
		Client: s.cfg.client, Conns: sh.conns, Rate: rate, Settle: settle, Duration: window}
	if rate == 0 {
		o.InFlight = sh.inFlight
	}
	return o
}

// measure runs one window against one server and records it. A window in
// which other work took more than -max-others of the benchmark's CPUs is
// measured again, up to -retries times: its tail latencies would describe the
// machine's other tenants, not the server.
func (s *session) measure(ctx context.Context, kind string, sh shape, rate float64, round int, window time.Duration) error {
	for attempt := 0; ; attempt++ {
		r, err := s.measureOnce(ctx, kind, sh, rate, round, window)
		if err != nil {
			return err
		}
		if s.cfg.maxOthers > 0 && r.foreign > s.cfg.maxOthers && attempt < s.cfg.retries {
			s.retried++
			s.logf("  other work took %.0f %% of the CPUs during that window; measuring it again", r.foreign*100)
			continue
		}
		s.runs = append(s.runs, r)
		if r.genShare > maxGeneratorShare {
			s.note(fmt.Sprintf("%s, %s, round %d: the load generator used %.0f %% of its CPU budget, so this run may measure the generator rather than the server",
				serverLabels[kind], describeLoad(sh, rate), round+1, r.genShare*100))
		}
		return nil
	}
}

// measureOnce runs one window against one server.
func (s *session) measureOnce(ctx context.Context, kind string, sh shape, rate float64, round int, window time.Duration) (runResult, error) {
	srv := s.servers[kind]
	before, _, err := srv.exchanges(ctx)
	if err != nil {
		return runResult{}, fmt.Errorf("%s /metrics: %w", kind, err)
	}
	// The server's CPU time, and how busy the benchmark's CPUs were in all,
	// at both ends of the window.
	var cpu0, cpu1, busy0, busy1 time.Duration
	var cpuErr error
	read := func(cpu, busy *time.Duration) {
		var err1, err2 error
		*cpu, err1 = processCPU(srv.pid)
		*busy, err2 = cpuBusy(s.benchCPUs())
		if cpuErr == nil {
			cpuErr = errors.Join(err1, err2)
		}
	}
	o := s.loadOptions(srv, sh, rate, s.cfg.settle, window)
	o.WindowStart = func() { read(&cpu0, &busy0) }
	o.WindowEnd = func() { read(&cpu1, &busy1) }
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		return runResult{}, fmt.Errorf("%s, %s: %w", kind, describeLoad(sh, rate), err)
	}
	if cpuErr != nil {
		return runResult{}, fmt.Errorf("%s: reading its CPU time: %w", kind, cpuErr)
	}
	if !srv.alive() {
		return runResult{}, fmt.Errorf("%s exited during the run:\n%s", kind, srv.logTail(20))
	}
	after, _, err := srv.exchanges(ctx)
	if err != nil {
		return runResult{}, fmt.Errorf("%s /metrics: %w", kind, err)
	}
	rss, err := peakRSS(srv.pid)
	if err != nil {
		return runResult{}, err
	}
	r := runResult{server: kind, shape: sh, rate: rate, round: round, res: res, serverCPU: cpu1 - cpu0,
		peakRSS: rss, exchanges: after - before}
	r.genShare = generatorShare(res.CPU, r.serverCPU, res.Elapsed, s.cfg.pin, len(s.cfg.loadCPUs), runtime.NumCPU())
	r.foreign = foreignShare(busy1-busy0, r.serverCPU, res.CPU, res.Elapsed, len(s.benchCPUs()))

	lag := ""
	if rate > 0 {
		lag = fmt.Sprintf("  pacer lag p99 %s max %s", fmtLatency(float64(res.Lag.Quantile(0.99))), fmtLatency(float64(res.Lag.Max())))
	}
	s.logf("%-28s %-22s round %d: %8.0f req/s  p50 %-9s p99 %-9s p99.9 %-9s max %-9s server %s/req  generator %s/req (%.0f %%)  others %.0f %%  errors %d  exchanges %d%s",
		serverLabels[kind], describeLoad(sh, rate), round+1, r.rps(), fmtLatency(r.latency(0.5)),
		fmtLatency(r.latency(0.99)), fmtLatency(r.latency(0.999)), fmtLatency(float64(res.Latency.Max())),
		fmtLatency(float64(r.serverCPUPerRequest())), fmtLatency(float64(res.CPUPerRequest())), r.genShare*100,
		r.foreign*100, res.Errors, r.exchanges, lag)
	if res.Errors > 0 {
		s.note(fmt.Sprintf("%s, %s: %d failed responses, first: %v", serverLabels[kind], describeLoad(sh, rate), res.Errors, res.FirstError))
	}
	if res.Unanswered > 0 || res.Requests == 0 {
		s.note(fmt.Sprintf("%s, %s: %d good responses in the window, %d requests never answered", serverLabels[kind], describeLoad(sh, rate), res.Requests, res.Unanswered))
	}
	if res.Dropped > 0 {
		s.note(fmt.Sprintf("%s, %s: %d requests dropped: the server was far behind the offered rate", serverLabels[kind], describeLoad(sh, rate), res.Dropped))
	}
	return r, nil
}

// benchCPUs are the CPUs the benchmark runs on: the server and load CPUs
// when pinned, else all of them.
func (s *session) benchCPUs() []int {
	if !s.cfg.pin {
		cpus := make([]int, runtime.NumCPU())
		for i := range cpus {
			cpus[i] = i
		}
		return cpus
	}
	return append(slices.Clone(s.cfg.serverCPUs), s.cfg.loadCPUs...)
}

// note records a warning for the report and shows it at once.
func (s *session) note(text string) {
	s.logf("WARNING: %s", text)
	s.notes = append(s.notes, text)
}

func describeLoad(sh shape, rate float64) string {
	if rate > 0 {
		return fmt.Sprintf("%s/s over %d conns", fmtRate(rate), sh.conns)
	}
	return sh.String()
}

// exchangeSummary gathers what extauthz and the emulator say about token
// exchanges over the whole session.
func (s *session) exchangeSummary(ctx context.Context, emu *emulator.Emulator, watch *exchangeWatch) *exchangeSummary {
	e := &exchangeSummary{lifetime: s.cfg.tokenLifetime, minted: emu.Stats().Exchanges}
	if success, attempts, err := s.servers[serverWIF].exchanges(ctx); err == nil {
		e.success, e.attempts = success, attempts
	} else {
		s.note(fmt.Sprintf("could not read extauthz WIF's exchange counter at the end: %v", err))
	}
	times := watch.snapshot()
	if len(times) > 0 {
		e.span = time.Since(times[0])
	}
	e.gap = minGap(times)
	for _, r := range s.runs {
		if r.server == serverWIF {
			e.checks += r.res.Requests
		}
	}
	return e
}
