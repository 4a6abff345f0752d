package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

var errProcFormat = errors.New("unexpected /proc format")

// parseStatCPU returns utime+stime from the text of /proc/<pid>/stat.
func parseStatCPU(stat string) (time.Duration, error) {
	// Field 2 (comm) is in parentheses and may hold spaces or ')', so
	// count fields from the last ')'. utime and stime are fields 14 and 15,
	// i.e. the 12th and 13th after comm.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without comm", errProcFormat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after comm", errProcFormat, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: utime %q stime %q", errProcFormat, f[11], f[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// parseStatusKB returns the value of a "Key:  123 kB" line of
// /proc/<pid>/status, in bytes.
func parseStatusKB(status, key string) (int64, error) {
	for line := range strings.Lines(status) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: %s line %q", errProcFormat, key, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", errProcFormat, key, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%w: no %s line", errProcFormat, key)
}

// processCPU is the user+system CPU time of process pid so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// peakRSS is VmHWM of process pid: its resident set's high-water mark over
// its whole life.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(string(b), "VmHWM")
}

// parseCPUBusy returns, for every CPU line of /proc/stat ("cpuN …"), the time
// it spent busy: user, nice, system, irq, softirq and steal (not idle or
// iowait).
func parseCPUBusy(stat string) (map[int]time.Duration, error) {
	out := map[int]time.Duration{}
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		cpu, err := strconv.Atoi(f[0][3:])
		if err != nil {
			return nil, fmt.Errorf("%w: /proc/stat line %q", errProcFormat, f[0])
		}
		var busy uint64
		for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: /proc/stat %s field %d", errProcFormat, f[0], i)
			}
			busy += v
		}
		out[cpu] = time.Duration(busy) * clockTick
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no per-CPU lines in /proc/stat", errProcFormat)
	}
	return out, nil
}

// cpuBusy is how long the given CPUs (all, if nil) have been busy since boot.
func cpuBusy(cpus []int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	busy, err := parseCPUBusy(string(b))
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for cpu, d := range busy {
		if cpus == nil || slices.Contains(cpus, cpu) {
			total += d
		}
	}
	return total, nil
}
