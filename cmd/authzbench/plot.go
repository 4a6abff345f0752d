package main

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// plotPoint is one load level of one server.
type plotPoint struct {
	load     float64 // requests/s: offered in open loop, achieved in closed loop
	p50, p99 time.Duration
	closed   bool // the closed-loop maximum
}

// plotSeries is one server's curve.
type plotSeries struct {
	name   string
	color  string
	points []plotPoint
}

// Plot geometry, in SVG user units.
const (
	plotW, plotH       = 900, 460
	marginL, marginR   = 70, 220
	marginT, marginB   = 64, 56
	innerW, innerH     = plotW - marginL - marginR, plotH - marginT - marginB
	plotFont           = `font-family="sans-serif"`
	minPlotLatency     = time.Microsecond
	minPlotLoad        = 1.0
	legendLine         = 18
	legendX, legendTop = marginL + innerW + 16, marginT + 8
)

// logAxis maps a positive value onto [0, length] on a log scale whose ends
// are 1-2-5 steps (…, 50, 100, 200, 500, 1000, …) around the data.
type logAxis struct {
	lo, hi float64
	length float64
}

func newLogAxis(values []float64, length float64) logAxis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if v > 0 {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	a := logAxis{lo: stepBelow(lo), hi: stepAbove(hi), length: length}
	if a.hi <= a.lo {
		a.hi = stepAbove(a.lo * 1.5)
	}
	return a
}

// stepBelow is the largest 1-2-5 step ≤ v; stepAbove the smallest ≥ v.
func stepBelow(v float64) float64 {
	d := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if d*m <= v*(1+1e-9) {
			return d * m
		}
	}
	return d
}

func stepAbove(v float64) float64 {
	d := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if d*m >= v*(1-1e-9) {
			return d * m
		}
	}
	return d * 10
}

func (a logAxis) pos(v float64) float64 {
	v = min(max(v, a.lo), a.hi)
	return a.length * math.Log10(v/a.lo) / math.Log10(a.hi/a.lo)
}

// ticks are the 1-2-5 steps from lo to hi.
func (a logAxis) ticks() []float64 {
	var out []float64
	for d := math.Pow(10, math.Floor(math.Log10(a.lo))); d <= a.hi*(1+1e-9); d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v >= a.lo*(1-1e-9) && v <= a.hi*(1+1e-9) {
				out = append(out, v)
			}
		}
	}
	return out
}

// writeSVG draws p50 (solid) and p99 (dashed) latency against load, log-log,
// one colour per series, the closed-loop maximum as a hollow marker.
func writeSVG(w io.Writer, title, subtitle string, series []plotSeries) error {
	var loads, lats []float64
	for _, s := range series {
		for _, p := range s.points {
			if p.load >= minPlotLoad && p.p50 >= minPlotLatency && p.p99 >= minPlotLatency {
				loads = append(loads, p.load)
				lats = append(lats, float64(p.p50), float64(p.p99))
			}
		}
	}
	xa, ya := newLogAxis(loads, innerW), newLogAxis(lats, innerH)
	x := func(v float64) float64 { return marginL + xa.pos(v) }
	y := func(v float64) float64 { return marginT + innerH - ya.pos(v) }

	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	fmt.Fprintf(b, `<text x="%d" y="24" %s font-size="16" font-weight="bold">%s</text>`+"\n", marginL, plotFont, html.EscapeString(title))
	fmt.Fprintf(b, `<text x="%d" y="44" %s font-size="12" fill="#444">%s</text>`+"\n", marginL, plotFont, html.EscapeString(subtitle))

	// Grid and tick labels.
	for _, t := range xa.ticks() {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x(t), marginT, x(t), marginT+innerH)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" %s font-size="11" text-anchor="middle">%s</text>`+"\n", x(t), marginT+innerH+16, plotFont, loadLabel(t))
	}
	for _, t := range ya.ticks() {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, y(t), marginL+innerW, y(t))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" %s font-size="11" text-anchor="end">%s</text>`+"\n", marginL-6, y(t)+4, plotFont, latencyLabel(time.Duration(t)))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", marginL, marginT, innerW, innerH)
	fmt.Fprintf(b, `<text x="%d" y="%d" %s font-size="12" text-anchor="middle">load (requests/s, log scale)</text>`+"\n", marginL+innerW/2, plotH-14, plotFont)
	fmt.Fprintf(b, `<text transform="translate(16 %d) rotate(-90)" %s font-size="12" text-anchor="middle">latency (log scale)</text>`+"\n", marginT+innerH/2, plotFont)

	for _, s := range series {
		pts := slices.DeleteFunc(slices.Clone(s.points), func(p plotPoint) bool {
			return p.load < minPlotLoad || p.p50 < minPlotLatency || p.p99 < minPlotLatency
		})
		slices.SortFunc(pts, func(a, b plotPoint) int { return cmpFloat(a.load, b.load) })
		for _, line := range []struct {
			q    func(plotPoint) time.Duration
			dash string
		}{{func(p plotPoint) time.Duration { return p.p50 }, ""}, {func(p plotPoint) time.Duration { return p.p99 }, ` stroke-dasharray="6 4"`}} {
			coords := make([]string, len(pts))
			for i, p := range pts {
				coords[i] = fmt.Sprintf("%.1f,%.1f", x(p.load), y(float64(line.q(p))))
			}
			if len(pts) > 1 {
				fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(coords, " "), s.color, line.dash)
			}
			for _, p := range pts {
				fill := s.color
				if p.closed {
					fill = "white"
				}
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n", x(p.load), y(float64(line.q(p))), fill, s.color)
			}
		}
	}

	// Legend.
	for i, s := range series {
		ly := legendTop + i*legendLine
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", legendX, ly, legendX+22, ly, s.color)
		fmt.Fprintf(b, `<text x="%d" y="%d" %s font-size="12">%s</text>`+"\n", legendX+28, ly+4, plotFont, html.EscapeString(s.name))
	}
	ly := legendTop + len(series)*legendLine + 8
	for i, line := range []string{"solid: p50", "dashed: p99", "filled: open loop", "hollow: closed-loop maximum"} {
		fmt.Fprintf(b, `<text x="%d" y="%d" %s font-size="11" fill="#444">%s</text>`+"\n", legendX, ly+4+i*legendLine, plotFont, line)
	}
	if len(loads) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" %s font-size="14" text-anchor="middle">no data</text>`+"\n", marginL+innerW/2, marginT+innerH/2, plotFont)
	}
	fmt.Fprintln(b, "</svg>")
	return b.Flush()
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// loadLabel writes 1000 as 1k and 1000000 as 1M.
func loadLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// latencyLabel writes a tick value as µs, ms or s.
func latencyLabel(d time.Duration) string {
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64) + " ms"
	}
	return strconv.FormatFloat(float64(d)/1e3, 'f', -1, 64) + " µs"
}
