// Command authzbench measures extauthz against a default grpc-go ext_authz
// server on this machine and prints a Markdown report (issues #4, #8, #10).
//
//	go run ./cmd/authzbench            # defaults: a few minutes on 2 CPUs
//	go run ./cmd/authzbench -h         # flags
//
// It builds ./cmd/extauthz from the module, so it always measures the code
// as it is, and starts five servers, each in its own process: extauthz in
// github-oidc mode against the local emulator (which runs inside this
// process) in cleartext, the same over mutual TLS with certificates made at
// start, the same with 16 credentials of which the request selects one
// through context_extensions, extauthz in static-key mode, and a baseline —
// this program again in its hidden baseline-server mode: grpc.NewServer()
// with no options and a handler returning one prebuilt CheckResponse of the
// same shape. It drives them alternately with the same load over loopback
// (closed loop in each shape, then open loop at fixed rates), reads each
// server's CPU time and peak RSS from /proc and extauthz's token exchanges
// from /metrics, and writes the latency-against-load plot as SVG.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches between the benchmark and its hidden helper modes and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "baseline-server":
			return runBaseline(args[1:], stdout, stderr)
		case "pin":
			return runPin(args[1:], stderr)
		}
	}
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "authzbench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := bench(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "authzbench: %v\n", err)
		return 1
	}
	return 0
}

// runPin is the hidden pin mode: `pin -cpus LIST -- program args…` execs
// program pinned to the CPUs.
func runPin(args []string, stderr io.Writer) int {
	if len(args) < 4 || args[0] != "-cpus" || args[2] != "--" {
		fmt.Fprintln(stderr, "usage: authzbench pin -cpus LIST -- program [args…]")
		return 2
	}
	cpus, err := parseCPUList(args[1])
	if err != nil {
		fmt.Fprintf(stderr, "authzbench pin: %v\n", err)
		return 2
	}
	err = execPinned(cpus, args[3:])
	fmt.Fprintf(stderr, "authzbench pin: %v\n", err) // exec returns only on failure
	return 1
}
