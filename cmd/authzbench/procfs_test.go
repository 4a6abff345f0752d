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
