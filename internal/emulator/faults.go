package emulator

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"
)

// fault is an injected token-endpoint failure; the zero fault is none.
type fault struct {
	status     int
	retryAfter time.Duration
}

// retryAfterSeconds is the Retry-After value: whole seconds, rounded up, at
// least 1.
func (f fault) retryAfterSeconds() string {
	return strconv.FormatInt(max(1, int64(math.Ceil(f.retryAfter.Seconds()))), 10)
}

// Fail injects a fault for tests and demos: until healed, /v1/oauth/token
// answers status with an Anthropic-shaped error body (and Retry-After when
// retryAfter > 0). Fail(0, 0) heals. A status other than 0 or 400–599 is a
// programming error and panics.
func (e *Emulator) Fail(status int, retryAfter time.Duration) {
	if status != 0 && (status < 400 || status > 599) {
		panic(fmt.Sprintf("emulator: Fail(%d): status must be 0 or 400–599", status))
	}
	e.mu.Lock()
	e.fault = fault{status: status, retryAfter: retryAfter}
	e.mu.Unlock()
	if status == 0 {
		e.log.Info("token endpoint healed")
		return
	}
	e.log.Info("token endpoint fault injected", "status", status, "retry_after", retryAfter)
}

func (e *Emulator) currentFault() fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fault
}

// Hang makes /v1/oauth/token block until the request's context ends (true)
// or behave again (false). Hang(false) also releases the requests already
// blocked, which are then answered normally.
func (e *Emulator) Hang(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case on && e.hangGate == nil:
		e.hangGate = make(chan struct{})
		e.log.Info("token endpoint hanging")
	case !on && e.hangGate != nil:
		close(e.hangGate)
		e.hangGate = nil
		e.log.Info("token endpoint released")
	}
}

// hangEvent is what the onHang test hook is told.
type hangEvent int

const (
	hangWaiting   hangEvent = iota // a request started waiting
	hangReleased                   // Hang(false) let it go on
	hangAbandoned                  // its context ended or the emulator closed
)

// waitWhileHung blocks while the endpoint hangs. It reports whether the
// request should go on: false when its context ended or the emulator closed.
func (e *Emulator) waitWhileHung(ctx context.Context) bool {
	e.mu.Lock()
	gate, hook := e.hangGate, e.onHang
	e.mu.Unlock()
	if gate == nil {
		return true
	}
	if hook == nil {
		hook = func(hangEvent) {}
	}
	hook(hangWaiting)
	select {
	case <-gate:
		hook(hangReleased)
		return true
	case <-ctx.Done():
	case <-e.closed:
	}
	hook(hangAbandoned)
	return false
}
