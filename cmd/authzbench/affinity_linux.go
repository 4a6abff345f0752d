package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"unsafe"
)

// maxCPUs is the size of the CPU masks passed to the kernel.
const maxCPUs = 1024

// cpuMask is a cpu_set_t.
type cpuMask [maxCPUs / 64]uint64

func maskOf(cpus []int) cpuMask {
	var m cpuMask
	for _, c := range cpus {
		m[c/64] |= 1 << (c % 64)
	}
	return m
}

func (m cpuMask) cpus() []int {
	var out []int
	for c := range maxCPUs {
		if m[c/64]&(1<<(c%64)) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// setAffinity pins one thread (tid; 0 is the calling thread) to cpus.
func setAffinity(tid int, cpus []int) error {
	m := maskOf(cpus)
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m))); errno != 0 {
		return fmt.Errorf("sched_setaffinity(%d): %w", tid, errno)
	}
	return nil
}

// affinity is the CPU list one thread (0: the calling thread) may run on.
func affinity(tid int) ([]int, error) {
	var m cpuMask
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m))); errno != 0 {
		return nil, fmt.Errorf("sched_getaffinity(%d): %w", tid, errno)
	}
	return m.cpus(), nil
}

// pinSelf pins every thread of this process to cpus and sets GOMAXPROCS to
// match. Threads the runtime creates later inherit the mask from the thread
// that creates them, so the pass repeats until it finds every thread
// already pinned.
func pinSelf(cpus []int) error {
	for pass := 0; ; pass++ {
		if pass == 10 {
			return fmt.Errorf("threads kept appearing unpinned after %d passes", pass)
		}
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		changed := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if cur, err := affinity(tid); err == nil && slices.Equal(cur, cpus) {
				continue
			}
			if err := setAffinity(tid, cpus); err != nil {
				return err
			}
			changed = true
		}
		if !changed {
			runtime.GOMAXPROCS(len(cpus))
			return nil
		}
	}
}

// execPinned replaces this process with argv[0] pinned to cpus: the calling
// thread is pinned and then execs, and a new process inherits the mask of
// the thread that exec'd. Every thread of the new program is then pinned
// from its first instruction, with no race against its runtime.
func execPinned(cpus []int, argv []string) error {
	runtime.LockOSThread()
	if err := setAffinity(0, cpus); err != nil {
		return err
	}
	return syscall.Exec(argv[0], argv, os.Environ())
}

// pinningSupported reports whether this platform can pin.
const pinningSupported = true
