package wasmhost

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// Names of the limits a LimitError reports.
const (
	LimitMemory      = "memory"
	LimitCallTimeout = "callTimeout"
	LimitPublishRate = "publishRate"
	// LimitCallDepth is the nesting of calls (interrupt.MaxDepth): it keeps
	// unbounded recursion from growing the host's call stack.
	LimitCallDepth = "callDepth"
)

// LimitError says that a task exceeded one of its limits and was stopped.
// Error() is the wording of CONTRACT.md, e.g. "memory limit 16MiB exceeded",
// "call timeout 100ms exceeded", "publish rate limit 100/s exceeded".
type LimitError struct {
	Limit string // LimitMemory, LimitCallTimeout, LimitPublishRate, LimitCallDepth
	Value string // the limit as configured, e.g. "16MiB", "100ms", "100/s"
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitCallTimeout:
		return "call timeout " + e.Value + " exceeded"
	case LimitPublishRate:
		return "publish rate limit " + e.Value + " exceeded"
	case LimitCallDepth:
		return "call depth limit " + e.Value + " exceeded"
	default:
		return e.Limit + " limit " + e.Value + " exceeded"
	}
}

// TrapError says that the guest trapped (unreachable, out-of-bounds memory
// access, stack overflow, integer divide by zero, ...) or that a host
// function failed in a way that ended the call. Error() is "trap: " and the
// cause as wazero reports it, on one line.
type TrapError struct {
	Cause string // e.g. "unreachable", "stack overflow"
}

func (e *TrapError) Error() string { return "trap: " + e.Cause }

// ExitError says that the guest called WASI proc_exit. Code 0 ends a job
// successfully; for a service any exit ends the instance.
type ExitError struct {
	Code uint32
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }

// HandlerError says that a handler export (canopy_on_message,
// canopy_on_tick) returned non-zero. It counts as a handler error, not a
// crash: the instance stays usable.
type HandlerError struct {
	Export string
	Code   int32
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("%s returned %d", e.Export, e.Code)
}

// ErrClosed is returned by calls on an instance that was closed.
var ErrClosed = errors.New("instance closed")

// ErrStopped is returned by a call that Stop interrupted and by every call
// after Stop.
var ErrStopped = errors.New("instance stopped")

// ErrInvalidTask marks an Instantiate error that no retry can fix: a bad
// TaskConfig, a module of the wrong kind for the task type, or one that
// needs more memory at start than its limit.
var ErrInvalidTask = errors.New("invalid task")

// errMessageTooLarge is returned for a message that cannot fit the task's
// memory (its limit, or a 32-bit guest); not fatal.
var errMessageTooLarge = errors.New("message too large for the task")

// IsFatal reports whether err ended the instance that returned it: anything
// but nil, a *HandlerError, ErrNoHandler or an oversized message. A
// supervisor restarts the task after a fatal error.
func IsFatal(err error) bool {
	if err == nil {
		return false
	}
	var he *HandlerError
	return !errors.As(err, &he) && !errors.Is(err, ErrNoHandler) && !errors.Is(err, errMessageTooLarge)
}

// trapCause turns a wazero call error into the one-line cause of a trap.
func trapCause(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "wasm error: ")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), "(recovered by wazero)"))
	if msg == "" {
		msg = "unknown"
	}
	return msg
}

// exitCode reports whether err is a WASI exit and its code.
func exitCode(err error) (uint32, bool) {
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}
