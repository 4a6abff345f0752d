package main

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"extauthz/internal/loadgen"
)

// fakeRun is a run whose every latency is lat and which served rps for 1 s.
func fakeRun(server string, sh shape, rate float64, round int, rps float64, lat time.Duration) runResult {
	h := new(loadgen.Histogram)
	for range 100 {
		h.Record(lat)
	}
	n := uint64(rps)
	return runResult{server: server, shape: sh, rate: rate, round: round,
		res:       loadgen.Result{Requests: n, Elapsed: time.Second, Latency: h, Lag: new(loadgen.Histogram), CPU: time.Duration(n) * 4 * time.Microsecond},
		serverCPU: time.Duration(n) * 20 * time.Microsecond, peakRSS: 20 << 20, genShare: 0.3}
}

func testReport(t *testing.T, wifRPS float64, wifP99At1k time.Duration) *report {
	t.Helper()
	cfg, err := parseConfig([]string{"-rates", "1000", "-shapes", "sidecar=2x32"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sh, open := cfg.shapes[0], shape{name: "open loop", conns: 2}
	r := &report{cfg: cfg, info: sysInfo{cpuModel: "Test CPU", cpus: 2}, command: "go run ./cmd/authzbench", tls: "TLS 1.3, TLS_AES_128_GCM_SHA256", requestHeaders: 11,
		requestBytes:  map[string]int{serverWIF: 481, serverWIFTLS: 481, serverWIFMany: 501, serverStatic: 481, serverBaseline: 481},
		responseBytes: map[string]int{serverWIF: 146, serverWIFTLS: 146, serverWIFMany: 142, serverStatic: 138, serverBaseline: 146},
		peakRSS:       map[string]int64{serverWIF: 22 << 20, serverWIFTLS: 23 << 20, serverWIFMany: 25 << 20, serverStatic: 21 << 20, serverBaseline: 18 << 20},
		exchanges:     &exchangeSummary{lifetime: 20 * time.Second, success: 13, attempts: 13, minted: 13, span: 130 * time.Second, gap: 10500 * time.Millisecond, checks: 5_000_000}}
	for round := range 3 {
		mtls := fakeRun(serverWIFTLS, sh, 0, round, 40_000, 700*time.Microsecond)
		mtls.serverCPU = 40_000 * 21500 * time.Nanosecond // 1.5 µs per Check more than in cleartext
		r.runs = append(r.runs,
			fakeRun(serverWIF, sh, 0, round, wifRPS+float64(round)*100, 600*time.Microsecond),
			mtls,
			fakeRun(serverWIFMany, sh, 0, round, 44_000, 600*time.Microsecond),
			fakeRun(serverStatic, sh, 0, round, 44_000, 600*time.Microsecond),
			fakeRun(serverBaseline, sh, 0, round, 30_000, 900*time.Microsecond),
			fakeRun(serverWIF, open, 1000, round, 1000, wifP99At1k),
			fakeRun(serverWIFTLS, open, 1000, round, 1000, 170*time.Microsecond),
			fakeRun(serverWIFMany, open, 1000, round, 1000, 150*time.Microsecond),
			fakeRun(serverStatic, open, 1000, round, 1000, 150*time.Microsecond),
			fakeRun(serverBaseline, open, 1000, round, 1000, 180*time.Microsecond))
	}
	return r
}

func TestReportPasses(t *testing.T) {
	var buf bytes.Buffer
	r := testReport(t, 45_000, 150*time.Microsecond)
	r.retried = 2
	r.runs[1].foreign = 0.2
	r.write(&buf)
	out := buf.String()
	assertContains(t, out,
		"2 windows were measured again because they took more than 5 %, and 1 of the 30 kept are still above it",
		"#### sidecar: 2 connections × 32 in flight, closed loop",
		"| extauthz WIF | 45.1k (45.0k–45.2k) | 600 µs |",
		"| **extauthz WIF ÷ baseline** | **1.50×** | 0.67× |",
		"| 1,000 | 150 µs / 150 µs |",
		"| closed-loop maximum (sidecar) | 45.1k/s",
		"- [x] sidecar requests/s, extauthz WIF ÷ baseline: 1.50× (≥ 1.3×; goal 1.5× met)",
		"- [x] p99 at 1,000 requests/s, extauthz WIF: 150 µs (< 1 ms)",
		"- [x] peak RSS under load, extauthz WIF: 22.0 MiB (< 40 MiB)",
		"- [x] token exchanges follow the refresh schedule, not the load: 13 in 2m10s (policy 11–14)",
		"Reproduce: `go run ./cmd/authzbench`")
	if strings.Contains(out, "FAIL") {
		t.Errorf("a passing report says FAIL:\n%s", out)
	}
}

func TestReportFails(t *testing.T) {
	r := testReport(t, 35_000, 2*time.Millisecond)
	r.exchanges.minted, r.exchanges.gap = 40, time.Second // exchanges following the load
	r.runs[0].genShare = 0.9
	var buf bytes.Buffer
	r.write(&buf)
	assertContains(t, buf.String(),
		"1.17× (≥ 1.3×; goal 1.5× not met) — **FAIL**",
		"extauthz WIF: 2 ms (< 1 ms) — **FAIL**",
		"none closer than 1s — **FAIL**",
		"(worst 90 %) — **FAIL**")
}

// assertContains fails for every wanted line the report lacks.
func assertContains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n%s", want, out)
		}
	}
}

func TestReportWithOnlyTheBaseline(t *testing.T) {
	r := testReport(t, 45_000, time.Millisecond)
	r.cfg.servers = []string{serverBaseline}
	r.exchanges = nil
	var buf bytes.Buffer
	r.write(&buf)
	if out := buf.String(); strings.Contains(out, "÷ baseline") || strings.Contains(out, "extauthz WIF |") {
		t.Errorf("a baseline-only report mentions extauthz rows:\n%s", out)
	}
	if got := len(r.plotSeries()); got != 1 {
		t.Errorf("%d plot series, want 1", got)
	}
}

func TestPlotSeriesFromRuns(t *testing.T) {
	ps := testReport(t, 45_000, 150*time.Microsecond).plotSeries()
	if len(ps) != len(allServers) {
		t.Fatalf("%d series, want %d", len(ps), len(allServers))
	}
	wif := ps[0]
	if len(wif.points) != 2 || wif.points[0].load != 1000 || !wif.points[1].closed || wif.points[1].load != 45_100 {
		t.Errorf("WIF points %+v", wif.points)
	}
}

func TestFormatters(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtRate(950), "950"}, {fmtRate(9500), "9,500"}, {fmtRate(45_123), "45.1k"}, {fmtRate(math.NaN()), "–"},
		{fmtCount(1234567), "1,234,567"}, {fmtCount(12), "12"},
		{fmtLatency(412_000), "412 µs"}, {fmtLatency(1_234_000), "1.23 ms"}, {fmtLatency(2.5e9), "2.5 s"}, {fmtLatency(math.NaN()), "–"},
		{fmtBytes(18.25 * (1 << 20)), "18.2 MiB"}, {fmtRatio(1.654), "1.65×"}, {fmtRatio(math.Inf(1)), "–"},
		{fmtSpread(spread{2, 1, 3}, fmtRate), "2 (1–3)"}, {fmtSpread(spread{2, 2, 2}, fmtRate), "2"},
		{plural(1, "round"), "1 round"}, {plural(3, "round"), "3 rounds"},
		{fmtDelta(1280), "+1.28 µs"}, {fmtDelta(-44_000), "−44 µs"}, {fmtDelta(math.NaN()), "–"},
		{fmtChange(0.872), "−12.8 %"}, {fmtChange(1.05), "+5.0 %"}, {fmtChange(math.NaN()), "–"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// A server that answers nothing has no latency and no CPU per request to
// look good with: its cells are empty and the acceptance fails.
func TestReportWithAServerThatAnswersNothing(t *testing.T) {
	r := testReport(t, 45_000, 150*time.Microsecond)
	for i, x := range r.runs {
		if x.server == serverWIF {
			r.runs[i].res = loadgen.Result{Elapsed: time.Second, Latency: new(loadgen.Histogram), Lag: new(loadgen.Histogram), Unanswered: 64}
			r.runs[i].serverCPU = 0
		}
	}
	var buf bytes.Buffer
	r.write(&buf)
	assertContains(t, buf.String(),
		"| extauthz WIF | 0 | – | – | – | – | 20.0 MiB | 192 | 0 |",
		"| 1,000 | – / – (served 0/s) |",
		"sidecar p99: extauthz WIF –, baseline 900 µs (no worse) — **FAIL**",
		"p99 at 1,000 requests/s, extauthz WIF: – (< 1 ms) — **FAIL**",
		"(0 failed, 384 unanswered) — **FAIL**")
	for _, ps := range r.plotSeries() {
		if ps.name == serverLabels[serverWIF] && len(ps.points) != 0 {
			t.Errorf("the plot has points for a server that answered nothing: %+v", ps.points)
		}
	}
}

func TestReportWithOneExchange(t *testing.T) {
	r := testReport(t, 45_000, 150*time.Microsecond)
	*r.exchanges = exchangeSummary{lifetime: 20 * time.Second, success: 1, attempts: 1, minted: 1, span: 8 * time.Second}
	var buf bytes.Buffer
	r.write(&buf)
	assertContains(t, buf.String(),
		"- [x] token exchanges follow the refresh schedule, not the load: 1 in 8s (policy 1–1), one per token generation, no two exchanges yet",
		"Between exchanges: no two exchanges yet")
}

// The mTLS and 16-credential servers get their rows, sections and
// acceptance lines, computed from their runs.
func TestReportTLSAndCredentials(t *testing.T) {
	var buf bytes.Buffer
	testReport(t, 45_000, 150*time.Microsecond).write(&buf)
	out := buf.String()
	assertContains(t, out,
		"- Request: a 481-byte Envoy CheckRequest; for extauthz WIF, 16 credentials the same with context_extensions {\"credential\": \"c15\"} (501 bytes), 11 header entries",
		"over mutual TLS (TLS 1.3, TLS_AES_128_GCM_SHA256) with ECDSA P-256 certificates made at start, a client certificate required and EXTAUTHZ_ALLOWED_CALLERS=spiffe://authzbench.test/ns/bench/sa/envoy",
		"with EXTAUTHZ_CREDENTIALS=c00,…,c15, 16 credentials on one emulator service account",
		"| extauthz WIF, mTLS | 40.0k | 700 µs | 700 µs | 700 µs | 21.5 µs | 20.0 MiB | 0 | 0 |",
		"| **extauthz WIF, mTLS ÷ baseline** | **1.33×** |",
		"| **extauthz WIF, 16 credentials ÷ baseline** | **1.47×** |",
		"#### Cost of TLS: extauthz WIF, mTLS against extauthz WIF in cleartext",
		"| sidecar | cleartext | 45.1k | 600 µs | 600 µs | 20 µs |",
		"| sidecar | mTLS | 40.0k | 700 µs | 700 µs | 21.5 µs |",
		"| sidecar | **mTLS − cleartext** | −11.3 % | +100 µs | +100 µs | **+1.5 µs** |",
		"#### Several credentials: 16, the request selecting one through context_extensions",
		"| sidecar | 1.50× | 1.47× | **−2.4 %** | 20 µs → 20 µs |",
		"- [x] with TLS on, the cost of TLS per Check against plaintext, sidecar, extauthz WIF: +1.5 µs of server CPU (21.5 µs over mTLS, 20 µs in cleartext); requests/s −11.3 % (issue #8)",
		"- [x] sidecar requests/s ÷ baseline with 16 credentials selected through context_extensions: 1.47×, with one: 1.50×, a difference of −2.4 % (within 10 %) (issue #10)",
		"| 1,000 | 150 µs / 150 µs | 170 µs / 170 µs | 150 µs / 150 µs |")
}

func TestReportCredentialsGapFails(t *testing.T) {
	r := testReport(t, 45_000, 150*time.Microsecond)
	for i, x := range r.runs {
		if x.server == serverWIFMany && x.closedLoop() {
			r.runs[i] = fakeRun(serverWIFMany, x.shape, 0, x.round, 36_000, 600*time.Microsecond)
		}
	}
	var buf bytes.Buffer
	r.write(&buf)
	assertContains(t, buf.String(), "with 16 credentials selected through context_extensions: 1.20×, with one: 1.50×, a difference of −20.2 % (within 10 %) (issue #10) — **FAIL**")
}

// Without the new kinds the report is what it was: no TLS or credentials
// sections and no acceptance lines for them.
func TestReportWithoutTheNewKinds(t *testing.T) {
	r := testReport(t, 45_000, 150*time.Microsecond)
	r.cfg.servers = []string{serverWIF, serverStatic, serverBaseline}
	var buf bytes.Buffer
	r.write(&buf)
	out := buf.String()
	for _, absent := range []string{"mTLS", "16 credentials", "context_extensions", "issue #8", "issue #10"} {
		if strings.Contains(out, absent) {
			t.Errorf("a report without the new servers mentions %q:\n%s", absent, out)
		}
	}
	assertContains(t, out, "- Request: a 481-byte Envoy CheckRequest, 11 header entries")
	if strings.Contains(out, "FAIL") {
		t.Errorf("a passing report says FAIL:\n%s", out)
	}
}
