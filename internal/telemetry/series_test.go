package telemetry

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"extauthz/internal/authz"
	"extauthz/internal/secret"
	"extauthz/internal/tokens"
)

// scrape is one GET /metrics: every sample line as series → value, in the
// order served, and every family's type by name.
type scrape struct {
	values   map[string]float64
	order    []string
	families map[string]string
}

func scrapeMetrics(t *testing.T, m *Metrics) scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	s := scrape{values: map[string]float64{}, families: map[string]string{}}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if typ, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if f := strings.Fields(typ); len(f) == 2 {
				s.families[f[0]] = f[1]
			}
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample line %q: %v", line, err)
		}
		s.values[line[:i]] = v
		s.order = append(s.order, line[:i])
	}
	return s
}

// value is the sample of series, failing t when it is absent.
func (s scrape) value(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := s.values[series]
	if !ok {
		t.Errorf("/metrics has no %s", series)
	}
	return v
}

// TestExportedSeriesMatchREADME pins every row of the README's Metrics table:
// the Prometheus names, their labels and label values, and what they hold.
func TestExportedSeriesMatchREADME(t *testing.T) {
	var ready atomic.Bool
	m, err := NewMetrics([]string{"default"}, ready.Load)
	if err != nil {
		t.Fatal(err)
	}
	const cred = `{credential="default"}`

	// Before the refresher reports, only readiness is known.
	if v := scrapeMetrics(t, m).value(t, "extauthz_ready"); v != 0 {
		t.Errorf("extauthz_ready = %v before any token, want 0", v)
	}
	// The refresher's start report: no token yet.
	m.Tokens(0).StatusChanged(tokens.Status{NextAttempt: time.Now()})
	if v := scrapeMetrics(t, m).value(t, "extauthz_token_expiry_timestamp_seconds"+cred); v != 0 {
		t.Errorf("extauthz_token_expiry_timestamp_seconds = %v before the first token, want 0", v)
	}

	results := []authz.Result{authz.ResultOK, authz.ResultUnavailable, authz.ResultForbidden, authz.ResultInvalid}
	for i, r := range results {
		for range i + 1 {
			m.CheckFinished(0, r, 20*time.Microsecond)
		}
	}
	outcomes := []tokens.Outcome{tokens.OutcomeSuccess, tokens.OutcomeError, tokens.OutcomeRejected, tokens.OutcomeTimeout}
	for i, o := range outcomes {
		for range i + 1 {
			m.Tokens(0).ExchangeFinished(o, 30*time.Millisecond)
		}
	}
	m.Tokens(0).StatusChanged(tokens.Status{Ready: true, ConsecutiveFailures: 3,
		Token: &tokens.Token{Value: secret.New("sk-ant-oat01-telemetry-test"), Expiry: time.Unix(1_900_000_000, 500_000_000)}})
	ready.Store(true)

	s := scrapeMetrics(t, m)
	for i, r := range results {
		series := `extauthz_checks_total{credential="default",result="` + string(r) + `"}`
		if v := s.value(t, series); v != float64(i+1) {
			t.Errorf("%s = %v, want %d", series, v, i+1)
		}
	}
	if v := s.value(t, "extauthz_check_duration_seconds_count"+cred); v != 10 {
		t.Errorf("extauthz_check_duration_seconds_count = %v, want 10", v)
	}
	for i, o := range outcomes {
		series := `extauthz_token_exchanges_total{credential="default",outcome="` + string(o) + `"}`
		if v := s.value(t, series); v != float64(i+1) {
			t.Errorf("%s = %v, want %d", series, v, i+1)
		}
	}
	if v := s.value(t, "extauthz_token_exchange_duration_seconds_count"+cred); v != 10 {
		t.Errorf("extauthz_token_exchange_duration_seconds_count = %v, want 10", v)
	}
	if v := s.value(t, "extauthz_token_expiry_timestamp_seconds"+cred); v != 1_900_000_000.5 {
		t.Errorf("extauthz_token_expiry_timestamp_seconds = %v, want 1900000000.5", v)
	}
	if v := s.value(t, "extauthz_token_consecutive_failures"+cred); v != 3 {
		t.Errorf("extauthz_token_consecutive_failures = %v, want 3", v)
	}
	if v := s.value(t, "extauthz_ready"); v != 1 {
		t.Errorf("extauthz_ready = %v with a servable token, want 1", v)
	}
	readme := map[string]string{
		"extauthz_checks_total": "counter", "extauthz_check_duration_seconds": "histogram",
		"extauthz_token_exchanges_total": "counter", "extauthz_token_exchange_duration_seconds": "histogram",
		"extauthz_token_expiry_timestamp_seconds": "gauge", "extauthz_token_consecutive_failures": "gauge",
		"extauthz_ready": "gauge", "extauthz_upstream_responses_total": "counter",
		"extauthz_callers_rejected_total": "counter", "extauthz_tls_handshake_failures_total": "counter",
		"extauthz_tls_reload_failures_total": "counter", "extauthz_access_log_entries_ignored_total": "counter",
	}
	for name, typ := range readme {
		if got := s.families[name]; got != typ {
			t.Errorf("/metrics family %s has type %q, want %s", name, got, typ)
		}
	}
	if len(s.families) != len(readme) {
		t.Errorf("/metrics has %d families, want exactly the README's %d", len(s.families), len(readme))
	}
}

// TestStaticKeyHasNoTokenSeries: without a refresher there is no token to
// describe, only checks and readiness.
func TestStaticKeyHasNoTokenSeries(t *testing.T) {
	m, err := NewMetrics([]string{"default"}, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	m.CheckFinished(0, authz.ResultOK, time.Microsecond)
	s := scrapeMetrics(t, m)
	for _, name := range []string{"extauthz_token_exchanges_total", "extauthz_token_exchange_duration_seconds",
		"extauthz_token_expiry_timestamp_seconds", "extauthz_token_consecutive_failures"} {
		if _, ok := s.families[name]; ok {
			t.Errorf("static-key mode exports %s", name)
		}
	}
	if v := s.value(t, "extauthz_ready"); v != 1 {
		t.Errorf("extauthz_ready = %v, want 1", v)
	}
}

// TestCheckSeriesUnderConcurrentScrapes: Checks recorded from many
// goroutines while /metrics is scraped. Every scrape is internally
// consistent (the histogram count is the sum of its buckets and never runs
// backwards) and, once recording stops, nothing was lost.
func TestCheckSeriesUnderConcurrentScrapes(t *testing.T) {
	m, err := NewMetrics([]string{"default"}, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 8, 10000
	const cred = `{credential="default"}`
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				r := authz.ResultOK
				if (w+i)%4 == 0 {
					r = authz.ResultUnavailable
				}
				m.CheckFinished(0, r, time.Duration(i%100)*time.Microsecond)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var lastCount float64
	check := func() scrape {
		s := scrapeMetrics(t, m)
		count, ok := s.values["extauthz_check_duration_seconds_count"+cred]
		if !ok {
			return s
		}
		prev := 0.0
		for _, series := range s.order {
			if !strings.HasPrefix(series, "extauthz_check_duration_seconds_bucket{") {
				continue
			}
			if v := s.values[series]; v < prev {
				t.Fatalf("cumulative bucket counts decrease: %s = %v after %v", series, v, prev)
			} else {
				prev = v
			}
		}
		if prev != count || count < lastCount {
			t.Fatalf("histogram count %v, +Inf bucket %v, previous scrape %v", count, prev, lastCount)
		}
		lastCount = count
		return s
	}
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
			check()
		}
	}
	s := check()
	ok := s.value(t, `extauthz_checks_total{credential="default",result="ok"}`)
	unavailable := s.value(t, `extauthz_checks_total{credential="default",result="unavailable"}`)
	if ok+unavailable != writers*perWriter || unavailable != writers*perWriter/4 {
		t.Errorf("checks_total ok %v + unavailable %v, want %d of which %d unavailable", ok, unavailable, writers*perWriter, writers*perWriter/4)
	}
	if n := s.value(t, "extauthz_check_duration_seconds_count"+cred); n != writers*perWriter {
		t.Errorf("histogram count %v, want %d", n, writers*perWriter)
	}
}

// TestSeveralCredentialsAndSecuritySeries: each credential has its own
// series; checks that selected none carry an empty credential label; the
// upstream, access-log and caller series count what they are told, and
// never a label value outside the configured set.
func TestSeveralCredentialsAndSecuritySeries(t *testing.T) {
	m, err := NewMetrics([]string{"team-a", "team-b"}, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	m.CheckFinished(0, authz.ResultOK, time.Microsecond)
	m.CheckFinished(1, authz.ResultOK, time.Microsecond)
	m.CheckFinished(1, authz.ResultUnavailable, time.Microsecond)
	m.CheckFinished(-1, authz.ResultForbidden, time.Microsecond)
	m.Tokens(1).ExchangeFinished(tokens.OutcomeSuccess, time.Millisecond)
	m.UpstreamResponse("team-a", "401")
	m.UpstreamResponse("team-a", "401")
	m.UpstreamResponse("team-c", "401") // not configured: not counted
	m.UpstreamResponse("team-b", "418") // not a class: not counted
	m.EntryIgnored("no_metadata")
	m.EntryIgnored("made-up reason")
	m.CallerRejected()
	m.HandshakeFailed()
	m.TLSReloadFailed()
	m.TLSReloadFailed()
	s := scrapeMetrics(t, m)
	for series, want := range map[string]float64{
		`extauthz_checks_total{credential="team-a",result="ok"}`:                 1,
		`extauthz_checks_total{credential="team-b",result="ok"}`:                 1,
		`extauthz_checks_total{credential="team-b",result="unavailable"}`:        1,
		`extauthz_checks_total{credential="",result="forbidden"}`:                1,
		`extauthz_token_exchanges_total{credential="team-b",outcome="success"}`:  1,
		`extauthz_upstream_responses_total{code="401",credential="team-a"}`:      2,
		`extauthz_upstream_responses_total{code="401",credential="team-b"}`:      0,
		`extauthz_access_log_entries_ignored_total{reason="no_metadata"}`:        1,
		`extauthz_access_log_entries_ignored_total{reason="unknown_credential"}`: 0,
		"extauthz_callers_rejected_total":                                        1,
		"extauthz_tls_handshake_failures_total":                                  1,
		"extauthz_tls_reload_failures_total":                                     2,
	} {
		if v := s.value(t, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	for series := range s.values {
		if strings.Contains(series, "team-c") || strings.Contains(series, "418") || strings.Contains(series, "made-up") {
			t.Errorf("a label value outside the configured set: %s", series)
		}
	}
}
