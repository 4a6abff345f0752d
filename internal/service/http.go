package service

import (
	"io"
	"net"
	"net/http"
	"time"
)

// newHTTPServer serves the operational endpoints:
//
//	/healthz  200 while the process runs (liveness)
//	/readyz   200 while a servable credential exists, else 503 (readiness)
//	/metrics  Prometheus exposition of the OpenTelemetry metrics
func (s *Service) newHTTPServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: no servable credential\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", s.metrics.Handler())
	return &http.Server{
		Handler: mux,
		// Probes and scrapes are tiny; these bounds only stop slow or idle
		// clients from holding connections open.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // a large /metrics page on a slow scraper
		IdleTimeout:       2 * time.Minute,  // longer than Prometheus' default scrape interval
	}
}

// NewHTTPClient returns the client for identity and exchange calls: the
// environment's proxy (agent sandboxes egress through one), bounded dials and
// handshakes, and no redirects — a token endpoint that redirects must not be
// able to send the assertion elsewhere. Each attempt's overall 10 s budget is
// the refresher's context.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			MaxIdleConns:          4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
