package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// sysInfo is what a reader needs to compare a report with another machine.
type sysInfo struct {
	cpuModel     string
	cpus         int
	kernel       string
	goVersion    string
	grpcVersion  string
	envoyVersion string // go-control-plane/envoy
}

func collectSysInfo() sysInfo {
	si := sysInfo{cpus: runtime.NumCPU(), goVersion: runtime.Version(), cpuModel: "unknown", kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		si.cpuModel = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		si.kernel = strings.TrimSpace(string(b))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		si.grpcVersion = depVersion(bi, "google.golang.org/grpc")
		si.envoyVersion = depVersion(bi, "github.com/envoyproxy/go-control-plane/envoy")
	}
	return si
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func depVersion(bi *debug.BuildInfo, path string) string {
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
