package loadgen

import (
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// timerfdTicker ticks with a Linux timerfd read through the runtime's
// netpoller. Go's own timers wake no sooner than about 1 ms when the process
// is otherwise idle (the netpoller's wait is in whole milliseconds), which
// would turn a 10,000/s schedule into bursts of ten; an fd becoming readable
// wakes the poller at once.
type timerfdTicker struct {
	f   *os.File
	buf [8]byte
}

// itimerspec is struct itimerspec of timerfd_settime(2).
type itimerspec struct {
	interval, value syscall.Timespec
}

const (
	clockMonotonic = 1
	tfdNonblock    = syscall.O_NONBLOCK
	tfdCloexec     = syscall.O_CLOEXEC
)

func newTicker(period time.Duration) (ticker, error) {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return nil, fmt.Errorf("loadgen: timerfd_create: %w", errno)
	}
	spec := itimerspec{interval: syscall.NsecToTimespec(int64(period)), value: syscall.NsecToTimespec(int64(period))}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("loadgen: timerfd_settime: %w", errno)
	}
	// A non-blocking fd makes os.NewFile register it with the netpoller,
	// so Read parks the goroutine instead of a thread.
	return &timerfdTicker{f: os.NewFile(fd, "timerfd")}, nil
}

// wait blocks until the next expiry (or returns at once if some passed).
func (t *timerfdTicker) wait() error {
	_, err := t.f.Read(t.buf[:])
	return err
}

func (t *timerfdTicker) close() { t.f.Close() }
