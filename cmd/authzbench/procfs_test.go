package main

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A real line, with a comm that contains a space and a parenthesis.
	stat := "4242 (ext (authz) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 37 0 0 20 0 5 0 123456 1300000000 4500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 287 * 10 * time.Millisecond; got != want {
		t.Errorf("cpu = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 eleven 12"} {
		if _, err := parseStatCPU(bad); !errors.Is(err, errProcFormat) {
			t.Errorf("parseStatCPU(%q) = %v, want errProcFormat", bad, err)
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\textauthz\nVmPeak:\t 1263820 kB\nVmHWM:\t   18432 kB\nVmRSS:\t   17000 kB\n"
	got, err := parseStatusKB(status, "VmHWM")
	if err != nil || got != 18432<<10 {
		t.Errorf("VmHWM = %d, %v; want %d", got, err, 18432<<10)
	}
	for _, bad := range []string{"VmRSS:\t1 kB\n", "VmHWM:\tlots kB\n", "VmHWM:\t12 MB\n"} {
		if _, err := parseStatusKB(bad, "VmHWM"); !errors.Is(err, errProcFormat) {
			t.Errorf("parseStatusKB(%q) = %v, want errProcFormat", bad, err)
		}
	}
}

func TestOwnProcessIsReadable(t *testing.T) {
	if !pinningSupported {
		t.Skip("no /proc here")
	}
	pid := os.Getpid()
	if _, err := processCPU(pid); err != nil {
		t.Error(err)
	}
	if rss, err := peakRSS(pid); err != nil || rss <= 0 {
		t.Errorf("peak RSS %d, %v", rss, err)
	}
}

func TestParseCPUBusy(t *testing.T) {
	stat := "cpu  252297 0 53177 351180 1259 0 5032 86 0 0\n" +
		"cpu0 100 1 20 5000 7 3 4 5 0 0\n" +
		"cpu1 10 0 2 900 1 0 0 0 0 0\n" +
		"intr 12345 0 0\nctxt 999\n"
	got, err := parseCPUBusy(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 133*clockTick || got[1] != 12*clockTick || len(got) != 2 {
		t.Errorf("busy = %v, want cpu0 1.33s, cpu1 120ms", got)
	}
	if _, err := parseCPUBusy("intr 1\n"); !errors.Is(err, errProcFormat) {
		t.Errorf("no CPU lines: %v", err)
	}
	if _, err := parseCPUBusy("cpu0 1 2 x 4 5 6 7 8\n"); !errors.Is(err, errProcFormat) {
		t.Errorf("bad number: %v", err)
	}
}
