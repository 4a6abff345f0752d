package main

import (
	"math"
	"slices"
	"time"

	"extauthz/internal/loadgen"
)

// runResult is one measured run of one server.
type runResult struct {
	server string
	shape  shape   // the closed-loop shape, or the connections of an open-loop run
	rate   float64 // requests/s offered in open loop; 0 in closed loop
	round  int
	res    loadgen.Result
	// serverCPU is the server process's CPU time during the window.
	serverCPU time.Duration
	// peakRSS is the server's VmHWM read after the run.
	peakRSS int64
	// exchanges counts extauthz's successful token exchanges between the
	// scrapes before and after the run (settle included).
	exchanges int
	// genShare is the fraction of the generator's CPU budget it used.
	genShare float64
	// foreign is the fraction of the benchmark's CPUs that other processes
	// (and the hypervisor) took during the window.
	foreign float64
}

func (r runResult) closedLoop() bool { return r.rate == 0 }

func (r runResult) rps() float64 { return r.res.Throughput() }

// latency is the q-quantile of the run's latencies in ns, NaN when it
// recorded none: a server that answered nothing in the window has no
// latency, not a latency of 0.
func (r runResult) latency(q float64) float64 {
	if r.res.Latency.Count() == 0 {
		return math.NaN()
	}
	return float64(r.res.Latency.Quantile(q))
}

// serverCPUPerRequest is the server's CPU time per completed request.
func (r runResult) serverCPUPerRequest() time.Duration {
	n := r.res.Requests + r.res.Errors
	if n == 0 {
		return 0
	}
	return r.serverCPU / time.Duration(n)
}

// generatorShare is the fraction of its CPU budget the generator used in a
// window: with pinning the budget is its own CPUs for the window; without,
// whatever of the machine the server left.
func generatorShare(genCPU, serverCPU, window time.Duration, pinned bool, genCPUs, machineCPUs int) float64 {
	budget := window * time.Duration(genCPUs)
	if !pinned {
		budget = window*time.Duration(machineCPUs) - serverCPU
	}
	if budget <= 0 {
		return math.Inf(1)
	}
	return float64(genCPU) / float64(budget)
}

// foreignShare is the part of cpus CPUs' time over window that was busy
// (busy, from /proc/stat) with neither the server nor the generator: other
// processes, interrupts and hypervisor steal. It is at least 0; /proc/stat
// counts in 10 ms ticks, so small values are noise.
func foreignShare(busy, serverCPU, genCPU, window time.Duration, cpus int) float64 {
	if window <= 0 || cpus <= 0 {
		return 0
	}
	return max(0, float64(busy-serverCPU-genCPU)/float64(window*time.Duration(cpus)))
}

// spread is the median and range of one metric over rounds.
type spread struct{ med, lo, hi float64 }

// spreadOf summarizes xs, leaving out NaNs (runs without that metric); the
// median of an even count is the mean of the middle two. No numbers give
// NaNs.
func spreadOf(xs []float64) spread {
	s := slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(s) == 0 {
		return spread{math.NaN(), math.NaN(), math.NaN()}
	}
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{med: med, lo: s[0], hi: s[len(s)-1]}
}

// spreadBy summarizes f over runs.
func spreadBy(runs []runResult, f func(runResult) float64) spread {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return spreadOf(xs)
}

// ratio is a/b, NaN when either is missing or b is zero.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// filterRuns keeps the runs of server that match.
func filterRuns(all []runResult, server string, match func(runResult) bool) []runResult {
	var out []runResult
	for _, r := range all {
		if r.server == server && match(r) {
			out = append(out, r)
		}
	}
	return out
}

// roundOrder is the order servers run in round r: rotated by one each
// round, so that every server takes every position (first after a warm-up,
// after each other server) equally often and drift cancels out.
func roundOrder(servers []string, round int) []string {
	n := len(servers)
	out := make([]string, n)
	for i := range servers {
		out[i] = servers[(i+round)%n]
	}
	return out
}

// expectedExchanges is the range of exchanges the refresh policy allows
// over span after the first one, for tokens living lifetime: one every 50 to
// 60 % of the lifetime (lifetimes up to 30 min; see the README's refresh
// policy), plus the first.
func expectedExchanges(span, lifetime time.Duration) (lo, hi int) {
	if lifetime <= 0 || span < 0 {
		return 1, 1
	}
	return 1 + int(float64(span)/(0.6*float64(lifetime))), 1 + int(float64(span)/(0.5*float64(lifetime)))
}
