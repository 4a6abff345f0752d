package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// errMetrics is returned for a /metrics page without the expected series.
var errMetrics = errors.New("unexpected /metrics content")

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseSample reads `name{k="v",…} value [timestamp]`. It returns false for
// comments, blank lines and lines it cannot read.
func parseSample(line string) (sample, bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return sample{}, false
	}
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return sample{}, false
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		rest, ok := parseLabels(line[1:], s.labels)
		if !ok {
			return sample{}, false
		}
		line = rest
	}
	f := strings.Fields(line)
	if len(f) < 1 {
		return sample{}, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return sample{}, false
	}
	s.value = v
	return s, true
}

// parseLabels reads `k="v",…}` into m and returns what follows the brace.
func parseLabels(s string, m map[string]string) (string, bool) {
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return "", false
		}
		if s[0] == '}' {
			return s[1:], true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return "", false
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			val.WriteByte(s[i])
		}
		if i >= len(s) {
			return "", false
		}
		m[key] = val.String()
		s = s[i+1:]
	}
}

// sumSeries adds the values of every sample of metric name whose labels
// include all of want. found is false when no sample matched.
func sumSeries(text, name string, want map[string]string) (total float64, found bool) {
	for line := range strings.Lines(text) {
		s, ok := parseSample(line)
		if !ok || s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			total += s.value
			found = true
		}
	}
	return total, found
}

// exchangeCounts reads extauthz's token exchange counter from a /metrics
// page: successful exchanges and all attempts.
func exchangeCounts(metrics string) (success, attempts int, err error) {
	const name = "extauthz_token_exchanges_total"
	ok, _ := sumSeries(metrics, name, map[string]string{"outcome": "success"})
	all, found := sumSeries(metrics, name, nil)
	if !found && !strings.Contains(metrics, name) {
		return 0, 0, fmt.Errorf("%w: no %s", errMetrics, name)
	}
	return int(ok), int(all), nil
}
