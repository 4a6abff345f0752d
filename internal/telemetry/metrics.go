package telemetry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"extauthz/internal/authz"
	"extauthz/internal/feedback"
	"extauthz/internal/tokens"
)

// Metrics holds extauthz's instruments. It is an authz.Observer (checks),
// gives each credential a tokens.Observer (exchanges and token state), and
// Handler serves them in the Prometheus text format. Exported series
// (Prometheus names):
//
//	extauthz_checks_total{result,credential}               credential "" when none was selected
//	extauthz_check_duration_seconds{credential}            histogram
//	extauthz_token_exchanges_total{outcome,credential}
//	extauthz_token_exchange_duration_seconds{credential}   histogram
//	extauthz_token_expiry_timestamp_seconds{credential}    0 before the first token
//	extauthz_token_consecutive_failures{credential}
//	extauthz_ready                                         1 while every credential is servable
//	extauthz_upstream_responses_total{credential,code}     from Envoy's access logs: 401, 403, 429, 5xx, other
//	extauthz_access_log_entries_ignored_total{reason}      feedback.Reasons
//	extauthz_callers_rejected_total
//	extauthz_tls_handshake_failures_total
//	extauthz_tls_reload_failures_total
type Metrics struct {
	provider *sdkmetric.MeterProvider
	registry *promclient.Registry

	names       []string
	checks      *checkRecorders // the two check series, recorded with atomics
	exchanges   metric.Int64Counter
	exchangeDur metric.Float64Histogram
	upstream    metric.Int64Counter
	ignored     metric.Int64Counter
	rejected    metric.Int64Counter
	handshakes  metric.Int64Counter
	reloads     metric.Int64Counter

	// Attribute options are built once so that recording allocates nothing.
	credential  []metric.MeasurementOption                     // {credential}, by index
	exchangeOut []map[tokens.Outcome]metric.MeasurementOption  // {credential, outcome}, by index
	upstreamSet map[string]map[string]metric.MeasurementOption // credential → code → {credential, code}
	ignoredSet  map[string]metric.MeasurementOption            // reason → {reason}

	status []atomic.Pointer[tokens.Status] // latest refresher status by index; nil for static keys
	ready  func() bool
}

// meterName is the instrumentation scope of every instrument (not exported:
// the Prometheus exporter runs WithoutScopeInfo).
const meterName = "extauthz"

// Latency buckets: Check is microseconds, an exchange is tens of milliseconds
// to the 10 s attempt budget.
var (
	checkBuckets    = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05}
	exchangeBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// outcomes are the outcome label values of extauthz_token_exchanges_total.
var outcomes = []tokens.Outcome{tokens.OutcomeSuccess, tokens.OutcomeError, tokens.OutcomeRejected, tokens.OutcomeTimeout}

// NewMetrics registers the instruments for the credentials named, in the
// order authz.Options lists them; ready reports whether every credential is
// servable now.
func NewMetrics(credentials []string, ready func() bool) (*Metrics, error) {
	reg := promclient.NewRegistry()
	checks := newCheckRecorders(credentials, time.Now())
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo(),
		otelprom.WithProducer(checks))
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		provider:    sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		registry:    reg,
		names:       credentials,
		checks:      checks,
		upstreamSet: map[string]map[string]metric.MeasurementOption{},
		ignoredSet:  map[string]metric.MeasurementOption{},
		status:      make([]atomic.Pointer[tokens.Status], len(credentials)),
		ready:       ready,
	}
	for _, name := range credentials {
		m.credential = append(m.credential, metric.WithAttributeSet(attribute.NewSet(attribute.String("credential", name))))
		out := map[tokens.Outcome]metric.MeasurementOption{}
		for _, o := range outcomes {
			out[o] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("credential", name), attribute.String("outcome", string(o))))
		}
		m.exchangeOut = append(m.exchangeOut, out)
		codes := map[string]metric.MeasurementOption{}
		for _, c := range feedback.Classes() {
			codes[c] = metric.WithAttributeSet(attribute.NewSet(attribute.String("credential", name), attribute.String("code", c)))
		}
		m.upstreamSet[name] = codes
	}

	for _, r := range feedback.Reasons() {
		m.ignoredSet[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}

	meter := m.provider.Meter(meterName)
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	m.exchanges = counter("extauthz.token.exchanges", "Token exchange attempts (identity JWT plus exchange) by outcome.")
	m.upstream = counter("extauthz.upstream.responses", "Upstream answers to requests that carried a credential, by code, from Envoy's access logs.")
	m.ignored = counter("extauthz.access_log.entries.ignored", "Access-log entries that were not counted, by reason.")
	m.rejected = counter("extauthz.callers.rejected", "Calls refused because the caller is not in EXTAUTHZ_ALLOWED_CALLERS.")
	m.handshakes = counter("extauthz.tls.handshake.failures", "Failed TLS handshakes on the gRPC and admin listeners.")
	m.reloads = counter("extauthz.tls.reload.failures", "Rotated TLS files that could not be loaded; the previous ones stay in use.")
	m.exchangeDur, err = meter.Float64Histogram("extauthz.token.exchange.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of token exchange attempts."),
		metric.WithExplicitBucketBoundaries(exchangeBuckets...))
	errs = append(errs, err)
	expiry, err := meter.Float64ObservableGauge("extauthz.token.expiry_timestamp", metric.WithUnit("s"),
		metric.WithDescription("Unix time at which the current token expires (0 before the first token)."))
	errs = append(errs, err)
	failures, err := meter.Int64ObservableGauge("extauthz.token.consecutive_failures",
		metric.WithDescription("Failed exchange attempts since the last success."))
	errs = append(errs, err)
	readyGauge, err := meter.Int64ObservableGauge("extauthz.ready",
		metric.WithDescription("1 while every credential is servable, else 0."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		var r int64
		if m.ready() {
			r = 1
		}
		o.ObserveInt64(readyGauge, r)
		for i := range m.status {
			s := m.status[i].Load()
			if s == nil {
				continue // a static key has no token series
			}
			exp := 0.0
			if s.Token != nil {
				exp = float64(s.Token.Expiry.UnixNano()) / 1e9
			}
			o.ObserveFloat64(expiry, exp, m.credential[i])
			o.ObserveInt64(failures, int64(s.ConsecutiveFailures), m.credential[i])
		}
		return nil
	}, expiry, failures, readyGauge)
	if err != nil {
		return nil, err
	}
	// Counters a scrape should show at 0 from the start, so that rate() and
	// alerts work before the first event.
	ctx := context.Background()
	for _, c := range []metric.Int64Counter{m.rejected, m.handshakes, m.reloads} {
		c.Add(ctx, 0)
	}
	for _, codes := range m.upstreamSet {
		for _, opt := range codes {
			m.upstream.Add(ctx, 0, opt)
		}
	}
	for _, opt := range m.ignoredSet {
		m.ignored.Add(ctx, 0, opt)
	}
	return m, nil
}

// CheckFinished implements authz.Observer: three atomic additions, no lock,
// no allocation.
func (m *Metrics) CheckFinished(credential int, r authz.Result, elapsed time.Duration) {
	m.checks.record(credential, r, elapsed)
}

// Tokens is the tokens.Observer of the credential at index i.
func (m *Metrics) Tokens(i int) tokens.Observer { return tokenMetrics{m, i} }

// tokenMetrics records one credential's refresher events.
type tokenMetrics struct {
	m *Metrics
	i int
}

// ExchangeFinished implements tokens.Observer.
func (t tokenMetrics) ExchangeFinished(o tokens.Outcome, elapsed time.Duration) {
	opt, ok := t.m.exchangeOut[t.i][o]
	if !ok {
		opt = t.m.exchangeOut[t.i][tokens.OutcomeError]
	}
	ctx := context.Background()
	t.m.exchanges.Add(ctx, 1, opt)
	t.m.exchangeDur.Record(ctx, elapsed.Seconds(), t.m.credential[t.i])
}

// StatusChanged implements tokens.Observer.
func (t tokenMetrics) StatusChanged(s tokens.Status) { t.m.status[t.i].Store(&s) }

// UpstreamResponse counts one upstream answer to a request that carried
// credential's token. An unknown credential or code is not counted: label
// values stay the configured ones.
func (m *Metrics) UpstreamResponse(credential, code string) {
	if opt, ok := m.upstreamSet[credential][code]; ok {
		m.upstream.Add(context.Background(), 1, opt)
	}
}

// EntryIgnored counts one access-log entry that led to nothing, by reason
// (feedback.Reasons; anything else is not counted).
func (m *Metrics) EntryIgnored(reason string) {
	if opt, ok := m.ignoredSet[reason]; ok {
		m.ignored.Add(context.Background(), 1, opt)
	}
}

// CallerRejected counts one call refused by the caller allow-list.
func (m *Metrics) CallerRejected() { m.rejected.Add(context.Background(), 1) }

// HandshakeFailed counts one failed TLS handshake.
func (m *Metrics) HandshakeFailed() { m.handshakes.Add(context.Background(), 1) }

// TLSReloadFailed counts one rotated TLS file set that could not be loaded.
func (m *Metrics) TLSReloadFailed() { m.reloads.Add(context.Background(), 1) }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Shutdown stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// checkRecorders record extauthz_checks_total and
// extauthz_check_duration_seconds. CheckFinished runs on every request, and
// the SDK's synchronous instruments cost about 400 ns and 2 allocations per
// Check there (attribute-set lookups, exemplar filtering) — more than the
// rest of the fast Check path. So Checks are counted with atomics, one
// checkRecorder per credential (and one for checks that selected none),
// and a metric Producer hands the exporter the same two metrics the
// instruments made: same names, units, descriptions, attributes, bucket
// bounds and cumulative temporality, each series present once recorded —
// so the exposition is unchanged (TestCheckSeriesUnchanged).
type checkRecorders struct {
	start time.Time
	by    []*checkRecorder // by credential index; the last is "no credential"
}

// checkRecorder counts one credential's Checks.
type checkRecorder struct {
	results    [len(checkResults)]atomic.Uint64
	buckets    []atomic.Uint64 // one per bound, then +Inf
	sumNanos   atomic.Int64
	resultSets [len(checkResults)]attribute.Set // {credential, result}
	credential attribute.Set                    // {credential}
}

// checkResults are the result label values; anything else counts as "other".
var checkResults = [...]authz.Result{authz.ResultOK, authz.ResultUnavailable, authz.ResultForbidden, authz.ResultInvalid, "other"}

func newCheckRecorders(credentials []string, start time.Time) *checkRecorders {
	c := &checkRecorders{start: start}
	for _, name := range append(slices.Clone(credentials), "") {
		r := &checkRecorder{
			buckets:    make([]atomic.Uint64, len(checkBuckets)+1),
			credential: attribute.NewSet(attribute.String("credential", name)),
		}
		for i, res := range checkResults {
			r.resultSets[i] = attribute.NewSet(attribute.String("credential", name), attribute.String("result", string(res)))
		}
		c.by = append(c.by, r)
	}
	return c
}

// record counts one Check of the credential at index i (-1: none).
func (c *checkRecorders) record(i int, r authz.Result, elapsed time.Duration) {
	if i < 0 || i >= len(c.by)-1 {
		i = len(c.by) - 1
	}
	c.by[i].record(r, elapsed)
}

func (c *checkRecorder) record(r authz.Result, elapsed time.Duration) {
	i := len(checkResults) - 1 // "other"
	for j, known := range checkResults {
		if r == known {
			i = j
			break
		}
	}
	c.results[i].Add(1)
	// The SDK's bucket rule: the first bound ≥ the value, else +Inf.
	seconds := elapsed.Seconds()
	b := len(checkBuckets)
	for j, bound := range checkBuckets {
		if seconds <= bound {
			b = j
			break
		}
	}
	c.buckets[b].Add(1)
	c.sumNanos.Add(int64(elapsed))
}

// Produce implements sdkmetric.Producer for the exporter's scrapes.
func (c *checkRecorders) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	var points []metricdata.DataPoint[int64]
	var hist []metricdata.HistogramDataPoint[float64]
	for _, r := range c.by {
		for i := range checkResults {
			if n := r.results[i].Load(); n > 0 {
				points = append(points, metricdata.DataPoint[int64]{Attributes: r.resultSets[i], StartTime: c.start, Time: now, Value: int64(n)})
			}
		}
		counts := make([]uint64, len(r.buckets))
		var total uint64
		for i := range r.buckets {
			counts[i] = r.buckets[i].Load()
			total += counts[i]
		}
		if total > 0 {
			hist = append(hist, metricdata.HistogramDataPoint[float64]{
				Attributes: r.credential, StartTime: c.start, Time: now, Count: total,
				Bounds: checkBuckets, BucketCounts: counts, Sum: float64(r.sumNanos.Load()) / 1e9,
			})
		}
	}
	var metrics []metricdata.Metrics
	if len(points) > 0 {
		metrics = append(metrics, metricdata.Metrics{
			Name:        "extauthz.checks",
			Description: "Check decisions by result.",
			Data:        metricdata.Sum[int64]{DataPoints: points, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true},
		})
	}
	if len(hist) > 0 {
		metrics = append(metrics, metricdata.Metrics{
			Name:        "extauthz.check.duration",
			Description: "Time spent in Check, from request decoded to response built.",
			Unit:        "s",
			Data:        metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality, DataPoints: hist},
		})
	}
	if len(metrics) == 0 {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: meterName}, Metrics: metrics}}, nil
}
