package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-h"}, 0, "usage: authzbench"},
		{[]string{"-rounds", "0"}, 2, "-rounds"},
		{[]string{"pin", "-cpus"}, 2, "usage: authzbench pin"},
		{[]string{"pin", "-cpus", "x", "--", "/bin/true"}, 2, "CPU list"},
		{[]string{"baseline-server", "-nope"}, 2, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), c.args, &stdout, &stderr); got != c.code {
			t.Errorf("run(%q) = %d, want %d; stderr: %s", c.args, got, c.code, stderr.String())
		}
		if !strings.Contains(stdout.String()+stderr.String(), c.out) {
			t.Errorf("run(%q) printed %q, want it to mention %q", c.args, stdout.String()+stderr.String(), c.out)
		}
	}
}

func TestReproduceCommand(t *testing.T) {
	got := reproduceCommand([]string{"-svg", "", "-shapes", "a=1x1", "-markdown", "my report's.md"})
	want := `go run ./cmd/authzbench -svg '' -shapes a=1x1 -markdown 'my report'\''s.md'`
	if got != want {
		t.Errorf("reproduceCommand = %s\nwant                 %s", got, want)
	}
	if got := reproduceCommand(nil); got != "go run ./cmd/authzbench" {
		t.Errorf("no args: %s", got)
	}
}

func TestInstrumentation(t *testing.T) {
	plain := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "-race", Value: "false"}, {Key: "-trimpath", Value: "true"}}}
	if got := instrumentation(plain); got != "" {
		t.Errorf("a default build: %q, want none", got)
	}
	raced := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "-race", Value: "true"}, {Key: "-asan", Value: "true"}}}
	if got := instrumentation(raced); got != "-race -asan" {
		t.Errorf("a race and asan build: %q", got)
	}
}
