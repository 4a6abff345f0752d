package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"extauthz/internal/echo"
)

// echoStopTimeout bounds the graceful stop: replies are instant, so anything
// still open after it is an idle or stuck connection.
const echoStopTimeout = 5 * time.Second

// echoCmd serves the echo upstream (every request answered with what it
// received, credentials as fingerprints) on EXTAUTHZ_ECHO_ADDR until SIGTERM
// or SIGINT, then stops gracefully and returns exitOK.
func echoCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: extauthz echo\n\nAnswers every HTTP request on EXTAUTHZ_ECHO_ADDR (default 127.0.0.1:8081) with the\nmethod, path, host and headers it received as JSON; credentials shown as fingerprints.")
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	addr, _ := lookup.Lookup("EXTAUTHZ_ECHO_ADDR")
	if addr = strings.TrimSpace(addr); addr == "" {
		addr = "127.0.0.1:8081"
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		fmt.Fprintf(stderr, "extauthz: configuration: EXTAUTHZ_ECHO_ADDR: %q is not host:port\n", addr)
		return exitUsage
	}
	logger := toolLogger(stderr, lookup)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("cannot listen", "addr", addr, "error", err)
		return exitFailed
	}
	srv := &http.Server{
		Handler: echo.Handler(),
		// A client that never finishes its headers must not pin a goroutine.
		ReadHeaderTimeout: 10 * time.Second,
		// The reply does not wait for the body; this only bounds a client that
		// trickles one in.
		ReadTimeout:  time.Minute,
		WriteTimeout: 30 * time.Second,
		// Longer than Envoy's upstream idle timeout (1 h by default), so that
		// Envoy, not echo, closes idle pooled connections: a close from this
		// side racing a new request would reach the client as a 503.
		IdleTimeout: 2 * time.Hour,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "extauthz echo: answering every request with what it received on http://%s\n", ln.Addr())
	logger.Info("echo upstream serving", "addr", ln.Addr().String())

	select {
	case <-ctx.Done():
	case err := <-served:
		logger.Error("echo upstream stopped", "error", err)
		return exitFailed
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), echoStopTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("graceful stop timed out, closing connections", "after", echoStopTimeout)
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		logger.Error("echo upstream stopped", "error", err)
		return exitFailed
	}
	logger.Info("stopped")
	return exitOK
}
