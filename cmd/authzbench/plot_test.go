package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgElements parses an SVG and counts its elements by name, failing on
// anything that is not well-formed XML.
func svgElements(t *testing.T, svg []byte) map[string][]xml.StartElement {
	t.Helper()
	out := map[string][]xml.StartElement{}
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			out[se.Name.Local] = append(out[se.Name.Local], se)
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestWriteSVG(t *testing.T) {
	us := time.Microsecond
	series := []plotSeries{
		{name: "extauthz <WIF> & co", color: "#1f77b4", points: []plotPoint{
			{load: 1000, p50: 90 * us, p99: 210 * us},
			{load: 20000, p50: 150 * us, p99: 900 * us},
			{load: 48000, p50: 600 * us, p99: 2 * time.Millisecond, closed: true},
			{load: 5000, p50: 100 * us, p99: 300 * us},
		}},
		{name: "baseline", color: "#d62728", points: []plotPoint{
			{load: 1000, p50: 120 * us, p99: 400 * us},
			{load: 27000, p50: 1100 * us, p99: 4 * time.Millisecond, closed: true},
			{load: 0, p50: 0, p99: 0}, // a run that failed: skipped
		}},
	}
	var buf bytes.Buffer
	if err := writeSVG(&buf, "Check latency", "sidecar & 2 connections", series); err != nil {
		t.Fatal(err)
	}
	els := svgElements(t, buf.Bytes())
	if n := len(els["polyline"]); n != 4 {
		t.Errorf("%d polylines, want 4 (p50 and p99 of two series)", n)
	}
	if n := len(els["circle"]); n != 2*4+2*2 {
		t.Errorf("%d markers, want 12", n)
	}
	hollow := 0
	for _, c := range els["circle"] {
		if attr(c, "fill") == "white" {
			hollow++
		}
		for _, k := range []string{"cx", "cy"} {
			v, err := strconv.ParseFloat(attr(c, k), 64)
			if err != nil || v < 0 || v > plotW {
				t.Errorf("marker %s = %q outside the picture", k, attr(c, k))
			}
		}
	}
	if hollow != 4 {
		t.Errorf("%d hollow markers, want 4 (the two closed-loop points, p50 and p99)", hollow)
	}
	// Points are joined in order of load, whatever order they came in.
	first := strings.Fields(attr(els["polyline"][0], "points"))
	for i := 1; i < len(first); i++ {
		a, _ := strconv.ParseFloat(strings.Split(first[i-1], ",")[0], 64)
		b, _ := strconv.ParseFloat(strings.Split(first[i], ",")[0], 64)
		if b < a {
			t.Errorf("polyline goes back from x=%v to x=%v", a, b)
		}
	}
	if !strings.Contains(buf.String(), "extauthz &lt;WIF&gt; &amp; co") {
		t.Error("series names are not escaped")
	}
}

func TestWriteSVGWithoutData(t *testing.T) {
	var buf bytes.Buffer
	if err := writeSVG(&buf, "empty", "", nil); err != nil {
		t.Fatal(err)
	}
	svgElements(t, buf.Bytes())
	if !strings.Contains(buf.String(), "no data") {
		t.Error("an empty plot does not say so")
	}
}

func TestLogAxis(t *testing.T) {
	a := newLogAxis([]float64{1500, 48000}, 100)
	if a.lo != 1000 || a.hi != 50000 {
		t.Errorf("axis %v–%v, want 1000–50000", a.lo, a.hi)
	}
	if a.pos(1000) != 0 || a.pos(50000) != 100 || a.pos(1) != 0 || a.pos(1e9) != 100 {
		t.Errorf("positions %v %v (and clamped %v %v), want 0 100", a.pos(1000), a.pos(50000), a.pos(1), a.pos(1e9))
	}
	if got := a.ticks(); len(got) != 6 || got[0] != 1000 || got[5] != 50000 {
		t.Errorf("ticks %v, want 1k 2k 5k 10k 20k 50k", got)
	}
	if b := newLogAxis([]float64{76e3, 2.68e6}, 10); b.lo != 50e3 || b.hi != 5e6 {
		t.Errorf("latency axis %v–%v, want 50 µs–5 ms", b.lo, b.hi)
	}
	if e := newLogAxis(nil, 10); e.lo != 1 || e.hi != 10 {
		t.Errorf("empty axis %v–%v", e.lo, e.hi)
	}
	if one := newLogAxis([]float64{2000}, 10); one.lo != 2000 || one.hi <= one.lo {
		t.Errorf("one-value axis %v–%v", one.lo, one.hi)
	}
}

func TestSteps(t *testing.T) {
	for _, c := range []struct{ v, below, above float64 }{
		{1000, 1000, 1000}, {120_000, 100_000, 200_000}, {76, 50, 100}, {3.5, 2, 5}, {0.7, 0.5, 1},
	} {
		if b, a := stepBelow(c.v), stepAbove(c.v); math.Abs(b-c.below) > 1e-9 || math.Abs(a-c.above) > 1e-9 {
			t.Errorf("steps around %v = %v, %v; want %v, %v", c.v, b, a, c.below, c.above)
		}
	}
}

func TestTickLabels(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{loadLabel(500), "500"}, {loadLabel(2000), "2k"}, {loadLabel(1e6), "1M"},
		{latencyLabel(50 * time.Microsecond), "50 µs"}, {latencyLabel(2 * time.Millisecond), "2 ms"}, {latencyLabel(time.Second), "1 s"},
	} {
		if c.got != c.want {
			t.Errorf("label %q, want %q", c.got, c.want)
		}
	}
}
