package telemetry

import (
	"context"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/protobuf/proto"

	"extauthz/internal/authz"
)

// sdkCheckMetrics records the check series with the SDK's synchronous
// instruments, as Metrics did before checkRecorder: the reference the
// exported series must stay identical to.
type sdkCheckMetrics struct {
	registry   *promclient.Registry
	checks     metric.Int64Counter
	duration   metric.Float64Histogram
	credential string
}

func newSDKCheckMetrics(t *testing.T, credential string) *sdkCheckMetrics {
	t.Helper()
	reg := promclient.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		t.Fatal(err)
	}
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)).Meter(meterName)
	s := &sdkCheckMetrics{registry: reg, credential: credential}
	if s.checks, err = meter.Int64Counter("extauthz.checks", metric.WithDescription("Check decisions by result.")); err != nil {
		t.Fatal(err)
	}
	if s.duration, err = meter.Float64Histogram("extauthz.check.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent in Check, from request decoded to response built."),
		metric.WithExplicitBucketBoundaries(checkBuckets...)); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sdkCheckMetrics) CheckFinished(r authz.Result, elapsed time.Duration) {
	switch r {
	case authz.ResultOK, authz.ResultUnavailable, authz.ResultForbidden, authz.ResultInvalid:
	default:
		r = "other"
	}
	ctx := context.Background()
	s.checks.Add(ctx, 1, metric.WithAttributes(attribute.String("credential", s.credential), attribute.String("result", string(r))))
	s.duration.Record(ctx, elapsed.Seconds(), metric.WithAttributes(attribute.String("credential", s.credential)))
}

// checkFamilies gathers reg's check series; histogram sums are returned
// apart (they are float sums in a different order) and zeroed.
func checkFamilies(t *testing.T, reg *promclient.Registry) (families []proto.Message, sums []float64) {
	t.Helper()
	all, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range all {
		if !strings.HasPrefix(mf.GetName(), "extauthz_check") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				sums = append(sums, h.GetSampleSum())
				h.SampleSum = proto.Float64(0)
				h.CreatedTimestamp = nil
			}
			if c := m.GetCounter(); c != nil {
				c.CreatedTimestamp = nil
			}
		}
		families = append(families, mf)
	}
	return families, sums
}

// TestCheckSeriesUnchanged records the same Checks through Metrics and
// through the SDK instruments it replaced, and compares what Prometheus
// gathers: names, help, types, labels, counts and buckets must be equal,
// sums equal to float rounding.
func TestCheckSeriesUnchanged(t *testing.T) {
	m, err := NewMetrics([]string{"default"}, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	ref := newSDKCheckMetrics(t, "default")

	compare := func(when string) {
		t.Helper()
		got, gotSums := checkFamilies(t, m.registry)
		want, wantSums := checkFamilies(t, ref.registry)
		if len(got) != len(want) {
			t.Fatalf("%s: %d check families, want %d", when, len(got), len(want))
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				t.Errorf("%s: family differs\ngot:  %v\nwant: %v", when, got[i], want[i])
			}
		}
		for i := range gotSums {
			if math.Abs(gotSums[i]-wantSums[i]) > 1e-9 {
				t.Errorf("%s: histogram sum %g, want %g", when, gotSums[i], wantSums[i])
			}
		}
	}
	compare("before any Check") // no series until one is recorded

	// Every result, on and around every bucket bound, and past the last.
	results := []authz.Result{authz.ResultOK, authz.ResultUnavailable, authz.ResultForbidden, authz.ResultInvalid, "surprise"}
	var durations []time.Duration
	for _, b := range checkBuckets {
		d := time.Duration(b * 1e9)
		durations = append(durations, d-1, d, d+1)
	}
	durations = append(durations, 0, time.Second)
	for i, d := range durations {
		r := results[i%len(results)]
		m.CheckFinished(0, r, d)
		ref.CheckFinished(r, d)
		if i == 0 {
			compare("after one Check")
		}
	}
	compare("after every bucket")

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`extauthz_checks_total{credential="default",result="ok"}`,
		`extauthz_check_duration_seconds_bucket{credential="default",le="1e-05"}`,
		`extauthz_check_duration_seconds_count{credential="default"}`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestCheckFinishedAllocatesNothing: recording is on every Check's path.
func TestCheckFinishedAllocatesNothing(t *testing.T) {
	m, err := NewMetrics([]string{"default"}, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { m.CheckFinished(0, authz.ResultOK, 12*time.Microsecond) }); n != 0 {
		t.Errorf("CheckFinished allocates %v times per call, want 0", n)
	}
}

func BenchmarkCheckFinished(b *testing.B) {
	m, err := NewMetrics([]string{"default"}, func() bool { return true })
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.CheckFinished(0, authz.ResultOK, 12*time.Microsecond)
		}
	})
}
