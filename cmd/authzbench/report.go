package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Acceptance thresholds of issues #4 and #10.
const (
	wantThroughputRatio = 1.3
	goalThroughputRatio = 1.5
	wantP99At1k         = time.Millisecond
	wantPeakRSS         = 40 << 20
	maxGeneratorShare   = 0.7
	acceptanceRate      = 1000
	// noisyForeignShare is the share of the benchmark's CPUs taken by other
	// work above which a window counts as disturbed when -max-others is 0.
	noisyForeignShare = 0.05
	// maxCredentialsGap is how far the 16-credential server's ratio to the
	// baseline may be from the single credential's (issue #10).
	maxCredentialsGap = 0.10
)

// serverColors colour the plot.
var serverColors = map[string]string{serverWIF: "#1f77b4", serverWIFTLS: "#9467bd", serverWIFMany: "#ff7f0e",
	serverStatic: "#2ca02c", serverBaseline: "#d62728"}

// report is everything a run of the benchmark found, ready to print.
type report struct {
	cfg                *config
	info               sysInfo
	command            string
	revision           string // the extauthz code measured
	loadStart, loadEnd string
	elapsed            time.Duration
	requestBytes       map[string]int // each server kind's request
	requestHeaders     int
	tls                string // the mTLS server's protocol and cipher suite, as the preflight negotiated them
	responseBytes      map[string]int
	runs               []runResult
	peakRSS            map[string]int64 // VmHWM at the end
	exchanges          *exchangeSummary // nil without a WIF server
	goEnv              string           // the servers' Go runtime settings, as text
	notes              []string         // warnings found while running
	retried            int              // windows measured again
}

// write prints the report as Markdown.
func (r *report) write(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "### extauthz against a default grpc-go ext_authz server\n\n")
	fmt.Fprintf(w, "- Machine: %s, %d CPUs, Linux %s; %s, grpc-go %s, go-control-plane/envoy %s.\n",
		r.info.cpuModel, r.info.cpus, r.info.kernel, r.info.goVersion, r.info.grpcVersion, r.info.envoyVersion)
	fmt.Fprintf(w, "- Load average (1/5/15 min): %s at the start, %s at the end; the run took %s.\n", r.loadStart, r.loadEnd, r.elapsed.Round(time.Second))
	if c.pin {
		fmt.Fprintf(w, "- Pinning: servers on CPU %s, load generator on CPU %s (GOMAXPROCS=%d). Servers: %s.\n",
			cpuListString(c.serverCPUs), cpuListString(c.loadCPUs), len(c.loadCPUs), r.goEnv)
	} else {
		fmt.Fprintf(w, "- No pinning: servers and load generator share every CPU. Servers: %s.\n", r.goEnv)
	}
	beta := "no client anthropic-beta"
	if c.clientBeta {
		beta = "client anthropic-beta " + clientBeta
	}
	fmt.Fprintf(w, "- Request: %s, %d header entries (%s). OK responses: %s.\n",
		r.requestSizes(), r.requestHeaders, beta, r.responseSizes())
	if len(r.runs) > 0 {
		f := spreadBy(r.runs, func(x runResult) float64 { return x.foreign })
		limit := r.cfg.maxOthers
		if limit == 0 {
			limit = noisyForeignShare
		}
		busy := 0
		for _, x := range r.runs {
			if x.foreign > limit {
				busy++
			}
		}
		fmt.Fprintf(w, "- Other processes (and hypervisor steal) took %.0f %% of the benchmark's CPUs during the median window kept, %.0f %% at most; %d windows were measured again because they took more than %.0f %%, and %d of the %d kept are still above it (their tails describe the machine's other work more than the server).\n",
			f.med*100, f.hi*100, r.retried, limit*100, busy, len(r.runs))
	}
	fmt.Fprintf(w, "- extauthz: built from %s, `extauthz serve` in github-oidc mode against the local emulator (WIF) and with ANTHROPIC_API_KEY (static key)%s. Baseline: `grpc.NewServer()` with no options, whose Check returns one prebuilt CheckResponse of the WIF shape.\n", r.revision, r.variants())
	fmt.Fprintf(w, "- Method: %s load client over loopback; each server in its own process, warmed up for %s after start; %s, servers alternating (order rotated each round); every run loads for %s unrecorded, then measures %s (closed loop) or %s (open loop).\n\n",
		clientName(c), c.warmup, plural(c.rounds, "round"), c.settle, c.duration, c.rateDuration)

	for _, sh := range c.shapes {
		r.writeShape(w, sh)
	}
	if r.has(serverWIF) && r.has(serverWIFTLS) {
		r.writeTLSCost(w)
	}
	if r.has(serverWIF) && r.has(serverWIFMany) && r.has(serverBaseline) {
		r.writeCredentials(w)
	}
	if len(c.rates) > 0 {
		r.writeCurve(w)
	}
	if r.exchanges != nil {
		r.writeExchanges(w)
	}
	r.writeAcceptance(w)
	for _, n := range r.notes {
		fmt.Fprintf(w, "> **Note:** %s\n\n", n)
	}
	fmt.Fprintf(w, "Reproduce: `%s`\n", r.command)
}

func clientName(c *config) string {
	if c.client == "grpc" {
		return "grpc-go (byte-passing CodecV2)"
	}
	return "raw HTTP/2 (pre-encoded frames)"
}

// requestSizes says how large the request is: one size for every server
// but the 16-credential one, whose request adds context_extensions.
func (r *report) requestSizes() string {
	var plain, many int
	for _, s := range r.cfg.servers {
		if s == serverWIFMany {
			many = r.requestBytes[s]
		} else if plain == 0 {
			plain = r.requestBytes[s]
		}
	}
	var parts []string
	if plain > 0 {
		parts = append(parts, fmt.Sprintf("a %d-byte Envoy CheckRequest", plain))
	}
	if many > 0 {
		parts = append(parts, fmt.Sprintf("for %s the same with context_extensions {%q: %q} (%d bytes)", serverLabels[serverWIFMany], "credential", selectedCredential, many))
	}
	return strings.Join(parts, "; ")
}

// variants describes the extauthz servers beyond the plain WIF and static
// ones, as configured.
func (r *report) variants() string {
	var parts []string
	if r.has(serverWIFTLS) {
		tlsText := ""
		if r.tls != "" {
			tlsText = " (" + r.tls + ")"
		}
		parts = append(parts, fmt.Sprintf("over mutual TLS%s with ECDSA P-256 certificates made at start, a client certificate required and EXTAUTHZ_ALLOWED_CALLERS=%s, the SPIFFE ID of the load generator's certificate (%s)",
			tlsText, benchCallerID, serverLabels[serverWIFTLS]))
	}
	if r.has(serverWIFMany) {
		parts = append(parts, fmt.Sprintf("with EXTAUTHZ_CREDENTIALS=%s,…,%s, %d credentials on one emulator service account (%s)",
			manyCredentialNames[0], selectedCredential, manyCredentials, serverLabels[serverWIFMany]))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; WIF also " + strings.Join(parts, " and ")
}

func (r *report) responseSizes() string {
	var parts []string
	for _, s := range r.cfg.servers {
		if n, ok := r.responseBytes[s]; ok {
			parts = append(parts, fmt.Sprintf("%s %d B", serverLabels[s], n))
		}
	}
	return strings.Join(parts, ", ")
}

// closedRuns are the closed-loop runs of server in shape sh.
func (r *report) closedRuns(server string, sh shape) []runResult {
	return filterRuns(r.runs, server, func(x runResult) bool { return x.closedLoop() && x.shape == sh })
}

// openRuns are the open-loop runs of server at rate.
func (r *report) openRuns(server string, rate float64) []runResult {
	return filterRuns(r.runs, server, func(x runResult) bool { return x.rate == rate })
}

// Metric extractors, each in the unit the table prints.
var (
	mRPS  = func(x runResult) float64 { return x.rps() }
	mP50  = func(x runResult) float64 { return x.latency(0.50) }
	mP99  = func(x runResult) float64 { return x.latency(0.99) }
	mP999 = func(x runResult) float64 { return x.latency(0.999) }
	mCPU  = func(x runResult) float64 {
		if x.res.Requests+x.res.Errors == 0 {
			return math.NaN() // not free: it answered nothing
		}
		return float64(x.serverCPUPerRequest())
	}
	mGenCPU = func(x runResult) float64 { return float64(x.res.CPUPerRequest()) }
	mShare  = func(x runResult) float64 { return x.genShare }
	mRSS    = func(x runResult) float64 { return float64(x.peakRSS) }
)

func (r *report) writeShape(w io.Writer, sh shape) {
	fmt.Fprintf(w, "#### %s: %d connections × %d in flight, closed loop\n\n", sh.name, sh.conns, sh.inFlight)
	fmt.Fprintln(w, "| server | requests/s | p50 | p99 | p99.9 | server CPU per request | peak RSS | errors | token exchanges |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	var all []runResult
	for _, s := range r.cfg.servers {
		runs := r.closedRuns(s, sh)
		all = append(all, runs...)
		errs, exch := uint64(0), 0
		for _, x := range runs {
			errs += x.res.Errors + x.res.Unanswered
			exch += x.exchanges
		}
		exText := "–"
		if isWIF(s) {
			exText = fmt.Sprintf("%d", exch)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", serverLabels[s],
			fmtSpread(spreadBy(runs, mRPS), fmtRate), fmtSpread(spreadBy(runs, mP50), fmtLatency),
			fmtSpread(spreadBy(runs, mP99), fmtLatency), fmtSpread(spreadBy(runs, mP999), fmtLatency),
			fmtLatency(spreadBy(runs, mCPU).med), fmtBytes(spreadBy(runs, mRSS).hi), errs, exText)
	}
	for _, s := range r.cfg.servers {
		if s == serverBaseline || !r.has(serverBaseline) {
			continue
		}
		a, b := r.closedRuns(s, sh), r.closedRuns(serverBaseline, sh)
		rt := func(f func(runResult) float64) string {
			return fmtRatio(ratio(spreadBy(a, f).med, spreadBy(b, f).med))
		}
		fmt.Fprintf(w, "| **%s ÷ baseline** | **%s** | %s | %s | %s | %s | %s | | |\n", serverLabels[s],
			rt(mRPS), rt(mP50), rt(mP99), rt(mP999), rt(mCPU), fmtRatio(ratio(spreadBy(a, mRSS).hi, spreadBy(b, mRSS).hi)))
	}
	gen, share := spreadBy(all, mGenCPU), spreadBy(all, mShare)
	fmt.Fprintf(w, "\nMedian of %s (min–max). Errors are failed responses and requests never answered. Peak RSS is VmHWM after the run. Load generator: %s of CPU per request (median), at most %.0f %% of its CPU budget.\n\n",
		plural(r.cfg.rounds, "round"), fmtLatency(gen.med), share.hi*100)
}

func (r *report) writeCurve(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "#### Latency against load: open loop over %d connections\n\n", c.rateConns)
	fmt.Fprint(w, "| offered requests/s |")
	for _, s := range c.servers {
		fmt.Fprintf(w, " %s p50 / p99 |", serverLabels[s])
	}
	fmt.Fprint(w, "\n|--:|")
	for range c.servers {
		fmt.Fprint(w, "--:|")
	}
	fmt.Fprintln(w)
	for _, rate := range c.rates {
		fmt.Fprintf(w, "| %s |", fmtRate(rate))
		for _, s := range c.servers {
			runs := r.openRuns(s, rate)
			cell := fmt.Sprintf("%s / %s", fmtLatency(spreadBy(runs, mP50).med), fmtLatency(spreadBy(runs, mP99).med))
			if got := spreadBy(runs, mRPS).med; got < 0.97*rate {
				cell += fmt.Sprintf(" (served %s/s)", fmtRate(got))
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}
	if len(c.shapes) > 0 {
		sh := c.shapes[0]
		fmt.Fprintf(w, "| closed-loop maximum (%s) |", sh.name)
		for _, s := range c.servers {
			runs := r.closedRuns(s, sh)
			fmt.Fprintf(w, " %s/s: %s / %s |", fmtRate(spreadBy(runs, mRPS).med),
				fmtLatency(spreadBy(runs, mP50).med), fmtLatency(spreadBy(runs, mP99).med))
		}
		fmt.Fprintln(w)
	}
	var all []runResult
	for _, x := range r.runs {
		if !x.closedLoop() {
			all = append(all, x)
		}
	}
	lag := spreadBy(all, func(x runResult) float64 { return float64(x.res.Lag.Quantile(0.99)) })
	fmt.Fprintf(w, "\nMedians of %s of %s. Latency is measured from the moment a request is written; the pacer sends in ticks (≤ 1 ms, ≥ 200 µs apart), p99 of its lateness against the schedule: %s (worst run).", plural(c.rounds, "round"), c.rateDuration, fmtLatency(lag.hi))
	if c.svgPath != "" {
		fmt.Fprintf(w, " Plot: `%s`.", c.svgPath)
	}
	fmt.Fprint(w, "\n\n")
}

// writeTLSCost compares the WIF server over mutual TLS with the same in
// cleartext, shape by shape: what TLS costs per Check (issue #8).
func (r *report) writeTLSCost(w io.Writer) {
	fmt.Fprintf(w, "#### Cost of TLS: %s against %s in cleartext\n\n", serverLabels[serverWIFTLS], serverLabels[serverWIF])
	fmt.Fprintln(w, "| shape | | requests/s | p50 | p99 | server CPU per Check |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|")
	for _, sh := range r.cfg.shapes {
		c := r.tlsCost(sh)
		for _, row := range []struct {
			name string
			m    shapeMedians
		}{{"cleartext", c.clear}, {"mTLS", c.mtls}} {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", sh.name, row.name, fmtRate(row.m.rps), fmtLatency(row.m.p50),
				fmtLatency(row.m.p99), fmtLatency(row.m.cpu))
		}
		fmt.Fprintf(w, "| %s | **mTLS − cleartext** | %s | %s | %s | **%s** |\n", sh.name, fmtChange(ratio(c.mtls.rps, c.clear.rps)),
			fmtDelta(c.mtls.p50-c.clear.p50), fmtDelta(c.mtls.p99-c.clear.p99), fmtDelta(c.perCheck()))
	}
	tlsText := "TLS"
	if r.tls != "" {
		tlsText = r.tls
	}
	fmt.Fprintf(w, "\nMedians of %s. %s; extauthz requires and verifies the client certificate and allows only its SPIFFE ID. Every run opens its connections, handshakes included, before its unrecorded settle, so this is TLS's cost on open connections as Envoy keeps them: sealing and opening records. The cost of TLS per Check is the difference in server CPU per Check.\n\n",
		plural(r.cfg.rounds, "round"), tlsText)
}

// shapeMedians are one server's medians over the rounds of one shape.
type shapeMedians struct{ rps, p50, p99, cpu float64 }

func (r *report) medians(server string, sh shape) shapeMedians {
	runs := r.closedRuns(server, sh)
	return shapeMedians{rps: spreadBy(runs, mRPS).med, p50: spreadBy(runs, mP50).med, p99: spreadBy(runs, mP99).med, cpu: spreadBy(runs, mCPU).med}
}

// tlsComparison is the WIF server in cleartext and over mTLS in one shape.
type tlsComparison struct{ clear, mtls shapeMedians }

func (r *report) tlsCost(sh shape) tlsComparison {
	return tlsComparison{clear: r.medians(serverWIF, sh), mtls: r.medians(serverWIFTLS, sh)}
}

// perCheck is the cost of TLS per Check: the server's extra CPU time, ns.
func (c tlsComparison) perCheck() float64 { return c.mtls.cpu - c.clear.cpu }

// writeCredentials sets the 16-credential server's ratio to the baseline
// beside the single credential's, shape by shape (issue #10).
func (r *report) writeCredentials(w io.Writer) {
	fmt.Fprintf(w, "#### Several credentials: %d, the request selecting one through context_extensions\n\n", manyCredentials)
	fmt.Fprintf(w, "| shape | %s ÷ baseline | %s ÷ baseline | difference | server CPU per Check, 1 → %d credentials |\n", serverLabels[serverWIF], serverLabels[serverWIFMany], manyCredentials)
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	for _, sh := range r.cfg.shapes {
		c := r.credentialsGap(sh)
		fmt.Fprintf(w, "| %s | %s | %s | **%s** | %s → %s |\n", sh.name, fmtRatio(c.single), fmtRatio(c.many), fmtChange(c.relative()),
			fmtLatency(r.medians(serverWIF, sh).cpu), fmtLatency(r.medians(serverWIFMany, sh).cpu))
	}
	fmt.Fprintf(w, "\nRatios of requests/s, medians of %s. The %d credentials (%s to %s) each exchanged a token with the emulator at start and refresh on their own schedules; every request carries context_extensions {%q: %q}, and every response is checked to carry that credential's token (its dynamic_metadata names %s).\n\n",
		plural(r.cfg.rounds, "round"), manyCredentials, manyCredentialNames[0], selectedCredential, "credential", selectedCredential, selectedCredential)
}

// credentialsComparison is the requests/s ratio to the baseline with one
// credential and with manyCredentials, in one shape.
type credentialsComparison struct{ single, many float64 }

func (r *report) credentialsGap(sh shape) credentialsComparison {
	base := r.medians(serverBaseline, sh).rps
	return credentialsComparison{single: ratio(r.medians(serverWIF, sh).rps, base), many: ratio(r.medians(serverWIFMany, sh).rps, base)}
}

// relative is the many-credential ratio over the single one: 0.97 is 3 %
// lower.
func (c credentialsComparison) relative() float64 { return ratio(c.many, c.single) }

func (r *report) writeExchanges(w io.Writer) {
	e := r.exchanges
	lo, hi := expectedExchanges(e.span, e.lifetime)
	fmt.Fprintf(w, "#### Token exchanges (extauthz WIF, tokens living %s)\n\n", e.lifetime)
	fmt.Fprintf(w, "%d exchanges over %s (first token to end), while the server answered %s Checks in measured windows alone; the refresh policy (one exchange 50–60 %% into each token's life) predicts %d–%d. extauthz counted %d successful exchanges of %d attempts; the emulator minted %d tokens. Between exchanges: %s (the policy's floor is %s).\n\n",
		e.minted, e.span.Round(time.Second), fmtCount(e.checks), lo, hi, e.success, e.attempts, e.minted, e.gapText(), e.lifetime/2)
}

// gapText describes the shortest time between two exchanges.
func (e *exchangeSummary) gapText() string {
	if e.minted < 2 {
		return "no two exchanges yet"
	}
	return "none closer than " + e.gap.Round(100*time.Millisecond).String()
}

// has reports whether server was run.
func (r *report) has(server string) bool {
	for _, s := range r.cfg.servers {
		if s == server {
			return true
		}
	}
	return false
}

func (r *report) writeAcceptance(w io.Writer) {
	fmt.Fprintln(w, "#### Acceptance (issues #4, #8 and #10)")
	fmt.Fprintln(w)
	check := func(ok bool, format string, args ...any) {
		mark, verdict := "x", ""
		if !ok {
			mark, verdict = " ", " — **FAIL**"
		}
		fmt.Fprintf(w, "- [%s] %s%s\n", mark, fmt.Sprintf(format, args...), verdict)
	}
	c := r.cfg
	if r.has(serverWIF) && r.has(serverBaseline) && len(c.shapes) > 0 {
		sh := c.shapes[0]
		a, b := r.closedRuns(serverWIF, sh), r.closedRuns(serverBaseline, sh)
		tr := ratio(spreadBy(a, mRPS).med, spreadBy(b, mRPS).med)
		goal := "goal 1.5× met"
		if !(tr >= goalThroughputRatio) {
			goal = "goal 1.5× not met"
		}
		check(tr >= wantThroughputRatio, "%s requests/s, extauthz WIF ÷ baseline: %s (≥ 1.3×; %s)", sh.name, fmtRatio(tr), goal)
		pa, pb := spreadBy(a, mP99).med, spreadBy(b, mP99).med
		check(pa <= pb, "%s p99: extauthz WIF %s, baseline %s (no worse)", sh.name, fmtLatency(pa), fmtLatency(pb))
	}
	if has1k := func() bool {
		for _, rate := range c.rates {
			if rate == acceptanceRate {
				return true
			}
		}
		return false
	}(); has1k {
		for _, s := range []string{serverWIF, serverStatic} {
			if r.has(s) {
				p := spreadBy(r.openRuns(s, acceptanceRate), mP99).med
				check(p < float64(wantP99At1k), "p99 at 1,000 requests/s, %s: %s (< 1 ms)", serverLabels[s], fmtLatency(p))
			}
		}
	}
	for _, s := range []string{serverWIF, serverStatic} {
		if rss, ok := r.peakRSS[s]; ok {
			check(rss < wantPeakRSS, "peak RSS under load, %s: %s (< 40 MiB)", serverLabels[s], fmtBytes(float64(rss)))
		}
	}
	if r.has(serverWIF) && r.has(serverWIFTLS) && len(c.shapes) > 0 {
		sh := c.shapes[0]
		t := r.tlsCost(sh)
		check(!math.IsNaN(t.perCheck()), "with TLS on, the cost of TLS per Check against plaintext, %s, extauthz WIF: %s of server CPU (%s over mTLS, %s in cleartext); requests/s %s (issue #8)",
			sh.name, fmtDelta(t.perCheck()), fmtLatency(t.mtls.cpu), fmtLatency(t.clear.cpu), fmtChange(ratio(t.mtls.rps, t.clear.rps)))
	}
	if r.has(serverWIF) && r.has(serverWIFMany) && r.has(serverBaseline) && len(c.shapes) > 0 {
		sh := c.shapes[0]
		g := r.credentialsGap(sh)
		check(math.Abs(g.relative()-1) <= maxCredentialsGap, "%s requests/s ÷ baseline with %d credentials selected through context_extensions: %s, with one: %s, a difference of %s (within 10 %%) (issue #10)",
			sh.name, manyCredentials, fmtRatio(g.many), fmtRatio(g.single), fmtChange(g.relative()))
	}
	if e := r.exchanges; e != nil {
		lo, hi := expectedExchanges(e.span, e.lifetime)
		ok := e.minted >= lo && e.minted <= hi && e.success == e.minted && (e.minted < 2 || e.gap >= e.lifetime/2-time.Second)
		check(ok, "token exchanges follow the refresh schedule, not the load: %d in %s (policy %d–%d), one per token generation, %s", e.minted, e.span.Round(time.Second), lo, hi, e.gapText())
	}
	var errs, unanswered uint64
	worst := 0.0
	for _, x := range r.runs {
		errs += x.res.Errors
		unanswered += x.res.Unanswered
		worst = max(worst, x.genShare)
	}
	check(errs+unanswered == 0, "every request was answered with an OK CheckResponse carrying the credential (%d failed, %d unanswered)", errs, unanswered)
	check(worst <= maxGeneratorShare, "the load generator stayed below 70 %% of its CPU budget in every run (worst %.0f %%)", worst*100)
	fmt.Fprintln(w)
}

// plotSeries turns the runs into one curve per server: the open-loop rates
// at their offered load, and the first shape's closed-loop maximum.
func (r *report) plotSeries() []plotSeries {
	var out []plotSeries
	for _, s := range r.cfg.servers {
		ps := plotSeries{name: serverLabels[s], color: serverColors[s]}
		add := func(load float64, runs []runResult, closed bool) {
			p50, p99 := spreadBy(runs, mP50).med, spreadBy(runs, mP99).med
			if !math.IsNaN(load) && !math.IsNaN(p50) && !math.IsNaN(p99) {
				ps.points = append(ps.points, plotPoint{load: load, p50: time.Duration(p50), p99: time.Duration(p99), closed: closed})
			}
		}
		for _, rate := range r.cfg.rates {
			add(rate, r.openRuns(s, rate), false)
		}
		if len(r.cfg.shapes) > 0 {
			runs := r.closedRuns(s, r.cfg.shapes[0])
			add(spreadBy(runs, mRPS).med, runs, true)
		}
		out = append(out, ps)
	}
	return out
}

// fmtSpread prints "median (min–max)" with one formatter.
func fmtSpread(s spread, f func(float64) string) string {
	if math.IsNaN(s.med) {
		return "–"
	}
	if s.lo == s.hi {
		return f(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.med), f(s.lo), f(s.hi))
}

// fmtRate prints requests/s: 950, 9,500, 45.1k.
func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 10_000:
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmtCount(uint64(math.Round(v)))
}

// fmtCount prints an integer with thousands separators.
func fmtCount(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// fmtLatency prints nanoseconds as µs below a millisecond and ms above, to
// three significant digits.
func fmtLatency(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns >= 1e9:
		return fmt.Sprintf("%.3g s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	}
	return fmt.Sprintf("%.3g µs", ns/1e3)
}

// fmtDelta prints a signed difference of nanoseconds: +1.28 µs, −44 µs.
func fmtDelta(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns < 0:
		return "−" + fmtLatency(-ns)
	}
	return "+" + fmtLatency(ns)
}

// fmtChange prints a ratio as a signed change in percent: 0.872 is
// −12.8 %.
func fmtChange(ratio float64) string {
	if math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return "–"
	}
	d := (ratio - 1) * 100
	if d < 0 {
		return fmt.Sprintf("−%.1f %%", -d)
	}
	return fmt.Sprintf("+%.1f %%", d)
}

// fmtBytes prints MiB.
func fmtBytes(b float64) string {
	if math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}

// plural writes "1 round", "3 rounds".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fmtRatio prints 1.65×.
func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}
