package interrupt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// Flag is the interrupt flag of one instantiated module that Instrument
// rewrote. Raise may be called from any goroutine, typically a timer, while
// another goroutine is inside a call into the module: the call traps at its
// next check (see the package documentation for how soon). All methods are
// safe for concurrent use.
//
// The flag stays raised until Reset: later calls into the module trap at
// their first check (a call that finishes before reaching one returns
// normally). After an interrupt the module's own state (its memory, a guest
// language runtime inside it) may be half-way through an update; whether to
// keep using the instance is the caller's decision.
//
// Engines: with wazero's compiler (amd64, arm64) the compiled code reads the
// global from memory that Raise writes, which Go's race detector does not
// see. wazero's interpreter (other platforms) reads the global in Go without
// synchronization, so raising the flag while a call runs there is a data race
// in Go's memory model: it stops the call on the hardware Go supports, but
// -race reports it. A flag raised between calls is fine on both.
type Flag struct {
	mu    sync.Mutex
	g     api.MutableGlobal
	depth api.Global // the call depth (DepthExportName)
}

// NewFlag finds the flag exported by an instantiated, instrumented module. It
// fails if the module does not export a mutable i32 global named ExportName,
// which means it was not rewritten by Instrument.
func NewFlag(mod api.Module) (*Flag, error) {
	g := mod.ExportedGlobal(ExportName)
	if g == nil {
		return nil, fmt.Errorf("module %q has no %s export: not instrumented", mod.Name(), ExportName)
	}
	mg, ok := g.(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI32 {
		return nil, fmt.Errorf("module %q export %s is not a mutable i32 global", mod.Name(), ExportName)
	}
	depth := mod.ExportedGlobal(DepthExportName)
	if depth == nil || depth.Type() != api.ValueTypeI32 {
		return nil, fmt.Errorf("module %q has no i32 %s export: not instrumented by this version", mod.Name(), DepthExportName)
	}
	return &Flag{g: mg, depth: depth}, nil
}

// DepthExceeded reports whether the module's calls nested deeper than
// MaxDepth: after a call that trapped with "unreachable", it tells the depth
// limit from an interrupt or a genuine trap. Call it from the goroutine that
// made the call, after the call returned.
func (f *Flag) DepthExceeded() bool {
	return uint32(f.depth.Get()) > MaxDepth
}

// Raise asks the running code to stop. It returns at once; the call into the
// module returns with a trap shortly after, when the code reaches a check.
// Host functions that may run long can call Raised and fail early.
func (f *Flag) Raise() {
	f.mu.Lock()
	f.g.Set(1)
	f.mu.Unlock()
}

// Reset lowers the flag so the module can be called again.
func (f *Flag) Reset() {
	f.mu.Lock()
	f.g.Set(0)
	f.mu.Unlock()
}

// Raised reports whether the flag is up.
func (f *Flag) Raised() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.g.Get() != 0
}

// RaiseWhenDone raises the flag when ctx is done (its deadline passes or it is
// cancelled), for as long as the returned stop function has not been called.
// stop reports whether it prevented the raise, like context.AfterFunc's stop.
// Typical use around one call with a time limit:
//
//	ctx, cancel := context.WithTimeout(ctx, limit)
//	stop := flag.RaiseWhenDone(ctx)
//	res, err := fn.Call(ctx, args...)
//	stop()
//	cancel()
//	if flag.Interrupted(err) { ... the call ran out of time ...; flag.Reset() }
func (f *Flag) RaiseWhenDone(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, f.Raise)
}

// Interrupted reports whether err, returned by a call into the module, is the
// trap of an interrupt check: the call trapped with "unreachable" and the flag
// is raised. A genuine unreachable trap that happens while the flag is raised
// is indistinguishable and also reported as an interrupt.
func (f *Flag) Interrupted(err error) bool {
	return err != nil && IsUnreachableTrap(err) && f.Raised()
}

// IsUnreachableTrap reports whether err is wazero's error for a call that
// executed an unreachable instruction (which is how an interrupt check traps).
// wazero does not export its trap errors, so this matches the error's text:
// wazero wraps an internal error whose message is "unreachable" as
// "wasm error: unreachable\nwasm stack trace: ...".
func IsUnreachableTrap(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "unreachable" || strings.HasPrefix(e.Error(), "wasm error: unreachable\n") {
			return true
		}
	}
	return false
}
