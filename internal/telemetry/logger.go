// Package telemetry builds extauthz's logs, metrics and traces: a slog logger,
// OpenTelemetry metrics exported for Prometheus on /metrics, and OpenTelemetry
// traces exported over OTLP when the standard OTEL_* variables ask for them.
// Nothing here ever records a credential.
package telemetry

import (
	"io"
	"log/slog"
)

// NewLogger returns a slog logger writing to w in format "json" or "text" at
// level "debug", "info", "warn" or "error" (config has validated both).
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
