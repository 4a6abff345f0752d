package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// TracingEnabled reports whether the standard OpenTelemetry variables ask for
// OTLP trace export: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint is set and
// OTEL_TRACES_EXPORTER is unset. Any other exporter name ("none", "console")
// and OTEL_SDK_DISABLED=true turn it off.
func TracingEnabled(lookup func(string) (string, bool)) bool {
	get := func(k string) string { v, _ := lookup(k); return strings.ToLower(strings.TrimSpace(v)) }
	if get("OTEL_SDK_DISABLED") == "true" {
		return false
	}
	switch get("OTEL_TRACES_EXPORTER") {
	case "otlp":
		return true
	case "":
		return get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default: // "none", or an exporter extauthz does not ship (console, zipkin…)
		return false
	}
}

// StartTracing installs a global tracer provider that exports spans over OTLP
// (http/protobuf by default, grpc when OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL says
// so); the exporters read their endpoint, headers and TLS settings from the
// standard OTEL_EXPORTER_OTLP_* variables themselves. It does not dial: the
// exporter connects lazily. The returned function flushes and stops it.
func StartTracing(ctx context.Context, lookup func(string) (string, bool), version string) (func(context.Context) error, error) {
	proto, ok := lookup("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if !ok {
		proto, _ = lookup("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var client otlptrace.Client
	switch p := strings.TrimSpace(proto); p {
	case "", "http/protobuf":
		client = otlptracehttp.NewClient()
	case "grpc":
		client = otlptracegrpc.NewClient()
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not supported (want http/protobuf or grpc)", p)
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("creating OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithAttributes(
		semconv.ServiceName("extauthz"), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("building trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
