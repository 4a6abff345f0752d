package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []shape{{"sidecar", 2, 32}, {"mesh", 16, 4}}
	if !slices.Equal(c.shapes, want) {
		t.Errorf("shapes %v, want %v", c.shapes, want)
	}
	if !slices.Equal(c.rates, []float64{1000, 2000, 5000, 10000, 20000}) {
		t.Errorf("rates %v", c.rates)
	}
	if !slices.Equal(c.servers, allServers) || c.rounds < 3 || !c.pin || c.serverProcs != 1 {
		t.Errorf("servers %v rounds %d pin %v server GOMAXPROCS %d", c.servers, c.rounds, c.pin, c.serverProcs)
	}
	if c.svgPath != "docs/perf/latency.svg" || c.client != "h2" || c.tokenLifetime != 20*time.Second {
		t.Errorf("svg %q client %q token lifetime %v", c.svgPath, c.client, c.tokenLifetime)
	}
}

func TestParseConfigFlags(t *testing.T) {
	c, err := parseConfig([]string{"-shapes", "a=1x1, 4x8", "-rates", "5000,1000,5000", "-servers", "baseline,wif",
		"-pin=false", "-server-cpus", "0-1", "-load-cpus", "1", "-client", "grpc", "-rounds", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.shapes, []shape{{"a", 1, 1}, {"4x8", 4, 8}}) {
		t.Errorf("shapes %v", c.shapes)
	}
	if !slices.Equal(c.rates, []float64{1000, 5000}) {
		t.Errorf("rates %v, want sorted and without duplicates", c.rates)
	}
	if !slices.Equal(c.servers, []string{serverWIF, serverBaseline}) {
		t.Errorf("servers %v, want canonical order", c.servers)
	}
	// Without pinning, overlapping CPU lists do not matter and GOMAXPROCS
	// stays Go's default.
	if c.pin || c.serverProcs != 0 || c.client != "grpc" || c.rounds != 5 {
		t.Errorf("pin %v GOMAXPROCS %d client %q rounds %d", c.pin, c.serverProcs, c.client, c.rounds)
	}
	if c, err := parseConfig([]string{"-rates", "none"}, io.Discard); err != nil || c.rates != nil {
		t.Errorf("-rates none: %v, %v", c.rates, err)
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-shapes", "sidecar=2by32"},
		{"-shapes", "x=0x4"},
		{"-shapes", ""},
		{"-rates", "1000,fast"},
		{"-rates", "-5"},
		{"-servers", "wif,nginx"},
		{"-client", "curl"},
		{"-duration", "0s"},
		{"-rounds", "0"},
		{"-token-lifetime", "1s"},
		{"-max-others", "1.5"},
		{"-retries", "-1"},
		{"-server-cpus", "1", "-load-cpus", "0-1"},
		{"-server-cpus", "3-1"},
		{"-load-cpus", "x"},
		{"stray"},
		{"-no-such-flag"},
	} {
		if _, err := parseConfig(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("parseConfig(%q) = %v, want errUsage", args, err)
		}
	}
	if _, err := parseConfig([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestParseCPUList(t *testing.T) {
	got, err := parseCPUList("3,0-1,1")
	if err != nil || !slices.Equal(got, []int{0, 1, 3}) {
		t.Errorf("parseCPUList = %v, %v", got, err)
	}
	if s := cpuListString(got); s != "0,1,3" {
		t.Errorf("cpuListString = %q", s)
	}
}
