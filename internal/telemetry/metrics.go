package telemetry

import (
	"context"
	"errors"
	"net/http"
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
	"extauthz/internal/tokens"
)

// Metrics holds extauthz's instruments. It is an authz.Observer (checks) and a
// tokens.Observer (exchanges and token state); Handler serves them in the
// Prometheus text format. Exported series (Prometheus names):
//
//	extauthz_checks_total{result,credential}
//	extauthz_check_duration_seconds{credential}            histogram
//	extauthz_token_exchanges_total{outcome,credential}
//	extauthz_token_exchange_duration_seconds{credential}   histogram
//	extauthz_token_expiry_timestamp_seconds{credential}    0 before the first token
//	extauthz_token_consecutive_failures{credential}
//	extauthz_ready                                         1 while a servable credential exists
type Metrics struct {
	provider *sdkmetric.MeterProvider
	registry *promclient.Registry

	checks      *checkRecorder // the two check series, recorded with atomics
	exchanges   metric.Int64Counter
	exchangeDur metric.Float64Histogram

	// Attribute options are built once so that recording allocates nothing.
	credential  metric.MeasurementOption
	exchangeOut map[tokens.Outcome]metric.MeasurementOption

	status atomic.Pointer[tokens.Status] // latest refresher status, nil in static-key mode
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

// NewMetrics registers the instruments. credential labels every series (the
// authentication type: github-oidc, oidc-file or static-key); ready reports
// whether a servable credential exists now.
func NewMetrics(credential string, ready func() bool) (*Metrics, error) {
	reg := promclient.NewRegistry()
	checks := newCheckRecorder(credential, time.Now())
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo(),
		otelprom.WithProducer(checks))
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		provider:    sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		registry:    reg,
		checks:      checks,
		credential:  metric.WithAttributeSet(attribute.NewSet(attribute.String("credential", credential))),
		exchangeOut: map[tokens.Outcome]metric.MeasurementOption{},
		ready:       ready,
	}
	for _, o := range []tokens.Outcome{tokens.OutcomeSuccess, tokens.OutcomeError, tokens.OutcomeRejected, tokens.OutcomeTimeout} {
		m.exchangeOut[o] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("credential", credential), attribute.String("outcome", string(o))))
	}

	meter := m.provider.Meter(meterName)
	m.exchanges, err = meter.Int64Counter("extauthz.token.exchanges",
		metric.WithDescription("Token exchange attempts (identity JWT plus exchange) by outcome."))
	errs := []error{err}
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
		metric.WithDescription("1 while a servable credential exists, else 0."))
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
		s := m.status.Load()
		if s == nil {
			return nil // static-key mode has no token series
		}
		exp := 0.0
		if s.Token != nil {
			exp = float64(s.Token.Expiry.UnixNano()) / 1e9
		}
		o.ObserveFloat64(expiry, exp, m.credential)
		o.ObserveInt64(failures, int64(s.ConsecutiveFailures), m.credential)
		return nil
	}, expiry, failures, readyGauge)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// CheckFinished implements authz.Observer: three atomic additions, no lock,
// no allocation.
func (m *Metrics) CheckFinished(r authz.Result, elapsed time.Duration) {
	m.checks.record(r, elapsed)
}

// ExchangeFinished implements tokens.Observer.
func (m *Metrics) ExchangeFinished(o tokens.Outcome, elapsed time.Duration) {
	opt, ok := m.exchangeOut[o]
	if !ok {
		opt = m.exchangeOut[tokens.OutcomeError]
	}
	ctx := context.Background()
	m.exchanges.Add(ctx, 1, opt)
	m.exchangeDur.Record(ctx, elapsed.Seconds(), m.credential)
}

// StatusChanged implements tokens.Observer.
func (m *Metrics) StatusChanged(s tokens.Status) { m.status.Store(&s) }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Shutdown stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// checkRecorder records extauthz_checks_total and
// extauthz_check_duration_seconds. CheckFinished runs on every request, and
// the SDK's synchronous instruments cost about 400 ns and 2 allocations per
// Check there (attribute-set lookups, exemplar filtering) — more than the
// rest of the fast Check path. So Checks are counted with atomics, and a
// metric Producer hands the exporter the same two metrics the instruments
// made: same names, units, descriptions, attributes, bucket bounds and
// cumulative temporality, each series present once recorded — so the
// exposition is unchanged (TestCheckSeriesUnchanged).
type checkRecorder struct {
	start      time.Time
	results    [len(checkResults)]atomic.Uint64
	buckets    []atomic.Uint64 // one per bound, then +Inf
	sumNanos   atomic.Int64
	resultSets [len(checkResults)]attribute.Set // {credential, result}
	credential attribute.Set                    // {credential}
}

// checkResults are the result label values; anything else counts as "other".
var checkResults = [...]authz.Result{authz.ResultOK, authz.ResultUnavailable, authz.ResultForbidden, authz.ResultInvalid, "other"}

func newCheckRecorder(credential string, start time.Time) *checkRecorder {
	c := &checkRecorder{
		start:      start,
		buckets:    make([]atomic.Uint64, len(checkBuckets)+1),
		credential: attribute.NewSet(attribute.String("credential", credential)),
	}
	for i, r := range checkResults {
		c.resultSets[i] = attribute.NewSet(attribute.String("credential", credential), attribute.String("result", string(r)))
	}
	return c
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
func (c *checkRecorder) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	var metrics []metricdata.Metrics
	var points []metricdata.DataPoint[int64]
	for i := range checkResults {
		if n := c.results[i].Load(); n > 0 {
			points = append(points, metricdata.DataPoint[int64]{Attributes: c.resultSets[i], StartTime: c.start, Time: now, Value: int64(n)})
		}
	}
	if len(points) > 0 {
		metrics = append(metrics, metricdata.Metrics{
			Name:        "extauthz.checks",
			Description: "Check decisions by result.",
			Data:        metricdata.Sum[int64]{DataPoints: points, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true},
		})
	}
	counts := make([]uint64, len(c.buckets))
	var total uint64
	for i := range c.buckets {
		counts[i] = c.buckets[i].Load()
		total += counts[i]
	}
	if total > 0 {
		metrics = append(metrics, metricdata.Metrics{
			Name:        "extauthz.check.duration",
			Description: "Time spent in Check, from request decoded to response built.",
			Unit:        "s",
			Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality, DataPoints: []metricdata.HistogramDataPoint[float64]{{
				Attributes: c.credential, StartTime: c.start, Time: now, Count: total,
				Bounds: checkBuckets, BucketCounts: counts, Sum: float64(c.sumNanos.Load()) / 1e9,
			}}},
		})
	}
	if len(metrics) == 0 {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: meterName}, Metrics: metrics}}, nil
}
