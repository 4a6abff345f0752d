package main

import (
	"bytes"
	"encoding/xml"
	"io"
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
	if a.lo != 1000 || a.hi != 100000 {
		t.Errorf("axis %v–%v, want 1000–100000", a.lo, a.hi)
	}
	if a.pos(1000) != 0 || a.pos(100000) != 100 || a.pos(10000) != 50 {
		t.Errorf("positions %v %v %v, want 0 50 100", a.pos(1000), a.pos(10000), a.pos(100000))
	}
	if got := len(a.ticks()); got != 7 {
		t.Errorf("%d ticks over two decades, want 7 (1,2,5,10,20,50,100 ×1000)", got)
	}
	if e := newLogAxis(nil, 10); e.lo != 1 || e.hi != 10 {
		t.Errorf("empty axis %v–%v", e.lo, e.hi)
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
