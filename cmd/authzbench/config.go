package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"extauthz/internal/loadgen"
)

// errUsage is wrapped by every command-line problem.
var errUsage = errors.New("usage")

// Server kinds the benchmark can run.
const (
	serverWIF      = "wif"      // extauthz serve, github-oidc against the local emulator
	serverWIFTLS   = "wif-mtls" // the same over mutual TLS, callers restricted by client-certificate SAN
	serverWIFMany  = "wif-16"   // extauthz serve with 16 github-oidc credentials, the request selecting one
	serverStatic   = "static"   // extauthz serve, static-key mode
	serverBaseline = "baseline" // a default grpc-go Authorization server with a prebuilt response
)

// allServers are the server kinds in the order the report lists them.
var allServers = []string{serverWIF, serverWIFTLS, serverWIFMany, serverStatic, serverBaseline}

// isWIF reports whether kind is extauthz in github-oidc mode: it exchanges
// tokens with an emulator of its own, and its /metrics counts them.
func isWIF(kind string) bool {
	return kind == serverWIF || kind == serverWIFTLS || kind == serverWIFMany
}

// shape is a closed-loop load shape: conns connections × inFlight each.
type shape struct {
	name     string
	conns    int
	inFlight int
}

func (s shape) String() string { return fmt.Sprintf("%s %d×%d", s.name, s.conns, s.inFlight) }

// config is the benchmark's command line, parsed and checked.
type config struct {
	duration, settle, warmup time.Duration
	rounds                   int
	shapes                   []shape
	rates                    []float64
	rateDuration             time.Duration
	rateConns                int
	servers                  []string
	client                   loadgen.Client
	clientBeta               bool
	tokenLifetime            time.Duration
	pin                      bool
	serverCPUs, loadCPUs     []int
	serverProcs              int
	gogc, gomemlimit         string
	svgPath, markdownPath    string
	maxOthers                float64
	retries                  int
	extauthzBin              string
}

const usageText = `usage: authzbench [flags]

Builds extauthz from this module, starts it (WIF against the local emulator
in cleartext, over mutual TLS and with 16 credentials, and static-key) and a
default grpc-go ext_authz baseline, each in its own process, drives them
alternately with the same load over loopback gRPC, and prints a Markdown
report; writes an SVG of latency against load.

flags:
`

// parseConfig parses args. Help output goes to w.
func parseConfig(args []string, w io.Writer) (*config, error) {
	fs := flag.NewFlagSet("authzbench", flag.ContinueOnError)
	fs.SetOutput(w)
	c := &config{}
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured window of each closed-loop run")
	fs.DurationVar(&c.settle, "settle", 500*time.Millisecond, "unrecorded load before every run's window (same connections)")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "unrecorded load once after each server starts")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds per shape and per rate; servers alternate within a round")
	shapes := fs.String("shapes", "sidecar=2x32,mesh=16x4", "closed-loop shapes: name=CONNSxINFLIGHT, comma-separated")
	rates := fs.String("rates", "1000,2000,5000,10000,20000", `open-loop rates (requests/s) for the latency curve; "none" for no curve`)
	fs.DurationVar(&c.rateDuration, "rate-duration", 2*time.Second, "measured window of each open-loop run")
	fs.IntVar(&c.rateConns, "rate-conns", 2, "connections for the open-loop runs")
	servers := fs.String("servers", strings.Join(allServers, ","), "servers to run: "+strings.Join(allServers, ", "))
	client := fs.String("client", string(loadgen.ClientH2), "load client: h2 (raw HTTP/2, cheapest) or grpc (grpc-go with a byte codec)")
	fs.BoolVar(&c.clientBeta, "client-beta", false, "send a client anthropic-beta header in the CheckRequest")
	fs.DurationVar(&c.tokenLifetime, "token-lifetime", 20*time.Second, "lifetime of the emulator's tokens (WIF refreshes at 50–60 % of it)")
	fs.BoolVar(&c.pin, "pin", true, "pin servers and the load generator to separate CPUs")
	serverCPUs := fs.String("server-cpus", "0", "CPUs for the servers when pinning (list or ranges: 0 or 0-1)")
	loadCPUs := fs.String("load-cpus", "1", "CPUs for the load generator when pinning")
	fs.IntVar(&c.serverProcs, "server-gomaxprocs", 0, "GOMAXPROCS of the servers; 0: the number of -server-cpus when pinning, else Go's default")
	fs.StringVar(&c.gogc, "server-gogc", "", "GOGC for the servers (empty: Go's default, 100)")
	fs.StringVar(&c.gomemlimit, "server-gomemlimit", "", "GOMEMLIMIT for the servers (empty: none)")
	fs.StringVar(&c.svgPath, "svg", "docs/perf/latency.svg", `where to write the latency plot; "" for none`)
	fs.StringVar(&c.markdownPath, "markdown", "", "also write the report to this file")
	fs.Float64Var(&c.maxOthers, "max-others", 0.05, "measure a window again when other processes took more than this share of the benchmark's CPUs during it (0: never)")
	fs.IntVar(&c.retries, "retries", 2, "how many times a disturbed window is measured again before it is kept")
	fs.StringVar(&c.extauthzBin, "extauthz", "", "use this extauthz binary instead of building ./cmd/extauthz")
	fs.Usage = func() {
		fmt.Fprint(w, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}

	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", errUsage, err))
		}
	}
	var err error
	c.shapes, err = parseShapes(*shapes)
	add(err)
	c.rates, err = parseRates(*rates)
	add(err)
	c.servers, err = parseServers(*servers)
	add(err)
	c.serverCPUs, err = parseCPUList(*serverCPUs)
	add(err)
	c.loadCPUs, err = parseCPUList(*loadCPUs)
	add(err)
	c.client = loadgen.Client(*client)
	if c.client != loadgen.ClientH2 && c.client != loadgen.ClientGRPC {
		add(fmt.Errorf("-client %q: want h2 or grpc", *client))
	}
	if c.duration <= 0 || c.rateDuration <= 0 || c.settle < 0 || c.warmup < 0 {
		add(errors.New("-duration and -rate-duration must be positive, -settle and -warmup not negative"))
	}
	if c.rounds < 1 || c.rateConns < 1 || c.serverProcs < 0 || c.retries < 0 {
		add(errors.New("-rounds and -rate-conns must be at least 1, -server-gomaxprocs and -retries not negative"))
	}
	if c.maxOthers < 0 || c.maxOthers >= 1 {
		add(errors.New("-max-others must be a share in [0, 1)"))
	}
	if c.tokenLifetime < 2*time.Second {
		add(errors.New("-token-lifetime must be at least 2s"))
	}
	if c.pin && overlap(c.serverCPUs, c.loadCPUs) {
		add(errors.New("-server-cpus and -load-cpus overlap"))
	}
	if c.pin && c.serverProcs == 0 {
		c.serverProcs = len(c.serverCPUs)
	}
	return c, errors.Join(errs...)
}

// parseShapes reads "name=CxM,…".
func parseShapes(s string) ([]shape, error) {
	var out []shape
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, dims, ok := strings.Cut(item, "=")
		if !ok {
			name, dims = item, item
		}
		cs, ms, ok := strings.Cut(strings.ToLower(dims), "x")
		conns, err1 := strconv.Atoi(cs)
		inFlight, err2 := strconv.Atoi(ms)
		if !ok || err1 != nil || err2 != nil || conns < 1 || inFlight < 1 || name == "" {
			return nil, fmt.Errorf("-shapes: %q: want name=CONNSxINFLIGHT, e.g. sidecar=2x32", item)
		}
		out = append(out, shape{name: name, conns: conns, inFlight: inFlight})
	}
	if len(out) == 0 {
		return nil, errors.New("-shapes: need at least one shape")
	}
	return out, nil
}

// parseRates reads "1000,2000,…" (or "none"), sorted ascending.
func parseRates(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "none" || strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for item := range strings.SplitSeq(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(item), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("-rates: %q is not a positive number", item)
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// parseServers reads a comma list of server kinds, keeping the canonical
// order.
func parseServers(s string) ([]string, error) {
	want := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if !slices.Contains(allServers, item) {
			return nil, fmt.Errorf("-servers: unknown server %q (want %s)", item, strings.Join(allServers, ", "))
		}
		want[item] = true
	}
	var out []string
	for _, k := range allServers {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// parseCPUList reads "0", "0,2" or "0-3".
func parseCPUList(s string) ([]int, error) {
	var out []int
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(item), "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || b >= maxCPUs {
			return nil, fmt.Errorf("CPU list %q: want numbers or ranges such as 0,2 or 0-1", s)
		}
		for cpu := a; cpu <= b; cpu++ {
			out = append(out, cpu)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func overlap(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
