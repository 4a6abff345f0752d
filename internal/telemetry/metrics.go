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
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

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

	checks        metric.Int64Counter
	checkDuration metric.Float64Histogram
	exchanges     metric.Int64Counter
	exchangeDur   metric.Float64Histogram

	// Attribute options are built once so that recording allocates nothing.
	credential    metric.MeasurementOption
	checkResult   map[authz.Result]metric.MeasurementOption
	exchangeOut   map[tokens.Outcome]metric.MeasurementOption
	unknownResult metric.MeasurementOption

	status atomic.Pointer[tokens.Status] // latest refresher status, nil in static-key mode
	ready  func() bool
}

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
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		provider:    sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		registry:    reg,
		credential:  metric.WithAttributeSet(attribute.NewSet(attribute.String("credential", credential))),
		checkResult: map[authz.Result]metric.MeasurementOption{},
		exchangeOut: map[tokens.Outcome]metric.MeasurementOption{},
		ready:       ready,
	}
	for _, r := range []authz.Result{authz.ResultOK, authz.ResultUnavailable, authz.ResultForbidden, authz.ResultInvalid, "other"} {
		m.checkResult[r] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("credential", credential), attribute.String("result", string(r))))
	}
	m.unknownResult = m.checkResult["other"]
	for _, o := range []tokens.Outcome{tokens.OutcomeSuccess, tokens.OutcomeError, tokens.OutcomeRejected, tokens.OutcomeTimeout} {
		m.exchangeOut[o] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("credential", credential), attribute.String("outcome", string(o))))
	}

	meter := m.provider.Meter("extauthz")
	m.checks, err = meter.Int64Counter("extauthz.checks",
		metric.WithDescription("Check decisions by result."))
	errs := []error{err}
	m.checkDuration, err = meter.Float64Histogram("extauthz.check.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent in Check, from request decoded to response built."),
		metric.WithExplicitBucketBoundaries(checkBuckets...))
	errs = append(errs, err)
	m.exchanges, err = meter.Int64Counter("extauthz.token.exchanges",
		metric.WithDescription("Token exchange attempts (identity JWT plus exchange) by outcome."))
	errs = append(errs, err)
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

// CheckFinished implements authz.Observer.
func (m *Metrics) CheckFinished(r authz.Result, elapsed time.Duration) {
	opt, ok := m.checkResult[r]
	if !ok {
		opt = m.unknownResult
	}
	ctx := context.Background()
	m.checks.Add(ctx, 1, opt)
	m.checkDuration.Record(ctx, elapsed.Seconds(), m.credential)
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
