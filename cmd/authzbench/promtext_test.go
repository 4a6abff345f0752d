package main

import (
	"errors"
	"strings"
	"testing"
)

const metricsPage = `# HELP extauthz_token_exchanges_total Token exchange attempts.
# TYPE extauthz_token_exchanges_total counter
extauthz_token_exchanges_total{credential="github-oidc",outcome="success"} 7
extauthz_token_exchanges_total{credential="github-oidc",outcome="error"} 2
extauthz_checks_total{credential="github-oidc",result="ok"} 1.234567e+06
weird_total{path="a \"quoted\" \\ value",x="y"} 3 1700000000000
broken{unterminated="x 4
`

func TestSumSeries(t *testing.T) {
	for _, c := range []struct {
		name      string
		want      map[string]string
		total     float64
		wantFound bool
	}{
		{"extauthz_token_exchanges_total", map[string]string{"outcome": "success"}, 7, true},
		{"extauthz_token_exchanges_total", nil, 9, true},
		{"extauthz_checks_total", map[string]string{"result": "ok"}, 1234567, true},
		{"weird_total", map[string]string{"path": `a "quoted" \ value`}, 3, true},
		{"extauthz_checks_total", map[string]string{"result": "forbidden"}, 0, false},
		{"broken", nil, 0, false},
	} {
		total, found := sumSeries(metricsPage, c.name, c.want)
		if total != c.total || found != c.wantFound {
			t.Errorf("sumSeries(%s, %v) = %v, %v; want %v, %v", c.name, c.want, total, found, c.total, c.wantFound)
		}
	}
}

func TestExchangeCounts(t *testing.T) {
	ok, all, err := exchangeCounts(metricsPage)
	if err != nil || ok != 7 || all != 9 {
		t.Errorf("exchangeCounts = %d, %d, %v; want 7, 9", ok, all, err)
	}
	// Before the first exchange the counter may have no series yet, but
	// its HELP line is there.
	ok, all, err = exchangeCounts("# HELP extauthz_token_exchanges_total x\n")
	if err != nil || ok != 0 || all != 0 {
		t.Errorf("empty counter: %d, %d, %v", ok, all, err)
	}
	if _, _, err := exchangeCounts("go_goroutines 12\n"); !errors.Is(err, errMetrics) {
		t.Errorf("a page without the counter: %v", err)
	}
}

// FuzzParseSample feeds /metrics-like lines (outside input: another
// process's HTTP response) to the parser: it must never panic, and what it
// accepts has a name.
func FuzzParseSample(f *testing.F) {
	for line := range strings.Lines(metricsPage) {
		f.Add(line)
	}
	f.Add(`x{a="\`)
	f.Add(`x{="v"} 1`)
	f.Fuzz(func(t *testing.T, line string) {
		if s, ok := parseSample(line); ok && s.name == "" {
			t.Errorf("parseSample(%q) accepted a sample without a name", line)
		}
		_, _ = sumSeries(line, "x", map[string]string{"a": "b"})
	})
}
