package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost/interrupt"
)

// Instance is one running task. One goroutine at a time drives it: OnMessage,
// OnTick, Run, Call, Failed, Stats and Close must not be called concurrently
// (the race detector reports it). Only Stop, Published and LogDropped may be
// called from any goroutine. There is no lock per call on purpose: see
// callGuard. A supervisor (package supervise) drives an instance from one
// goroutine and publishes its status for others.
//
// After a fatal error (see IsFatal) the instance is unusable: every later
// call returns that error. Close it and instantiate again.
type Instance struct {
	host    *Host
	mod     *Module
	cfg     TaskConfig
	limits  kernel.Limits
	timeout time.Duration // of the current call: limits.CallTimeout, or initTimeout during init
	clock   func() time.Time

	ctx   context.Context // carries the *Instance for host functions
	wmod  api.Module
	mem   api.Memory
	guard *callGuard
	iflag *interrupt.Flag // the module's interrupt flag and call depth
	lmem  *limitedMemory
	tlog  *taskLog
	slot  *sysSlot // stdout, stderr, sleep
	kv    *kvSpace

	publishBucket tokenBucket
	floodBucket   tokenBucket

	// Used by the goroutine that drives the instance:
	failed    error
	closed    bool
	allocFn   api.Function // looked up on first use (see fn)
	onMsgFn   api.Function
	onTickFn  api.Function
	looked    uint8  // lookedAlloc | lookedOnMessage | lookedOnTick
	region    uint32 // guest buffer from canopy_alloc, reused while big enough
	regionCap uint32
	stack     [4]uint64

	// Counters, owned by the driving goroutine like the calls (an atomic
	// add per message would cost as much as the rest of the host's work).
	started       time.Time
	messages      uint64
	handlerErrors uint64
	sampleNanos   int64
	samples       int64
	published     atomic.Uint64
}

// ErrNoHandler is returned by OnMessage or OnTick when the module does not
// export the handler. It is not fatal.
var ErrNoHandler = errors.New("module does not export the handler")

// Instantiate starts a task from a loaded module. A service (the default
// type) is instantiated and its _initialize runs (with ten call timeouts, at
// least 1s, as its time limit: language runtimes start there); then
// canopy_abi_version must return 1. A job is instantiated only; Run calls
// its _start. A module whose initial memory exceeds the memory limit is
// refused with a *LimitError.
func (h *Host) Instantiate(ctx context.Context, m *Module, cfg TaskConfig) (*Instance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: task config: %w", ErrInvalidTask, err)
	}
	if cfg.Type == "" {
		cfg.Type = kernel.TypeService
	}
	switch {
	case cfg.Type == kernel.TypeJob && !m.command:
		return nil, fmt.Errorf("%w %s: a job needs a WASI command module exporting _start", ErrInvalidTask, cfg.ID)
	case cfg.Type == kernel.TypeService && m.command:
		return nil, fmt.Errorf("%w %s: a service needs a reactor module (clang -mexec-model=reactor or go build -buildmode=c-shared), this one exports _start", ErrInvalidTask, cfg.ID)
	}
	limits := cfg.Limits.WithDefaults()
	if m.MinMemory() > uint64(limits.Memory) {
		return nil, fmt.Errorf("%w %s: module needs %s of memory at start: %w", ErrInvalidTask, cfg.ID,
			kernel.Bytes(m.MinMemory()), &LimitError{Limit: LimitMemory, Value: limits.Memory.String()})
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = h.cfg.Logger
	}
	now := cfg.Clock()
	i := &Instance{
		host: h, mod: m, cfg: cfg, limits: limits, clock: cfg.Clock, started: now,
		timeout:       limits.CallTimeout.D(),
		guard:         newCallGuard(&h.wd.epoch, limits.CallTimeout.D()),
		tlog:          newTaskLog(cfg.Logger, string(cfg.ID), float64(limits.LogRate), cfg.Clock),
		publishBucket: newTokenBucket(float64(limits.PublishRate), float64(limits.PublishRate), now),
		floodBucket:   newTokenBucket(float64(limits.PublishRate), float64(limits.PublishRate), now),
	}
	i.lmem = &limitedMemory{limit: uint64(limits.Memory), guard: i.guard}
	var err error
	i.kv = newKVSpace(h.db, string(cfg.ID), int64(limits.KV))
	i.ctx = &instCtx{Context: context.Background(), inst: i}
	i.slot = h.slots.get(h.modConfig, i)
	i.wmod, err = h.rt.InstantiateModule(experimental.WithMemoryAllocator(i.ctx, i.lmem), m.compiled, i.slot.config)
	if err != nil {
		h.slots.put(i.slot)
		return nil, fmt.Errorf("task %s: instantiate: %w", cfg.ID, err)
	}
	flag, err := interrupt.NewFlag(i.wmod)
	if err != nil {
		i.wmod.Close(ctx)
		h.slots.put(i.slot)
		return nil, fmt.Errorf("task %s: %w", cfg.ID, err)
	}
	i.guard.flag = flag
	i.iflag = flag
	i.mem = i.wmod.Memory()
	// Handler functions are looked up on first use: each lookup makes a
	// wazero call engine (~2µs, a quarter of a start).
	h.wd.add(i.guard)
	if cfg.Type == kernel.TypeService {
		stop := func() bool { return false }
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { i.guard.stop(stopCanceled) })
		}
		err := i.initialize()
		stop()
		if err != nil {
			i.Close(ctx)
			return nil, fmt.Errorf("task %s: %w", cfg.ID, err)
		}
	}
	return i, nil
}

// initTimeout is the time limit of _initialize and the ABI check: a guest
// language runtime starts there (Go's takes milliseconds on a fast machine),
// so it gets ten call timeouts, at least a second.
func initTimeout(call time.Duration) time.Duration { return max(10*call, time.Second) }

// initialize runs a reactor's _initialize and checks the ABI version.
func (i *Instance) initialize() error {
	i.timeout = initTimeout(i.limits.CallTimeout.D())
	i.guard.timeout.Store(int64(i.timeout))
	defer func() {
		i.timeout = i.limits.CallTimeout.D()
		i.guard.timeout.Store(int64(i.timeout))
	}()
	if fn := i.wmod.ExportedFunction(ExportInitialize); fn != nil {
		if err := i.call(fn, i.stack[:1]); err != nil {
			return fmt.Errorf("%s: %w", ExportInitialize, err)
		}
	}
	// canopy_abi_version returns a constant: it is checked on the first
	// instance of a module only.
	if i.mod.abiChecked.Load() {
		return nil
	}
	if err := i.call(i.wmod.ExportedFunction(ExportABIVersion), i.stack[:1]); err != nil {
		return fmt.Errorf("%s: %w", ExportABIVersion, err)
	}
	if v := int32(i.stack[0]); v != ABIVersion {
		return fmt.Errorf("%w: %s returned %d, this host implements ABI version %d", ErrInvalidTask, ExportABIVersion, v, ABIVersion)
	}
	i.mod.abiChecked.Store(true)
	return nil
}

// call runs fn under the call timeout and turns what ends it into an error.
// A fatal error marks the instance failed.
func (i *Instance) call(fn api.Function, stack []uint64) error {
	if !i.guard.begin() {
		i.failed = ErrStopped
		return ErrStopped
	}
	err := fn.CallWithStack(i.ctx, stack)
	reason := i.guard.end()
	// A call that returned but was raised against still exceeded a limit
	// (the watchdog raises only after the whole timeout; a sleep cut short
	// returns without reaching a check). Only Stop lets it pass: it refuses
	// the next call instead.
	if err == nil && (reason == stopNone || reason == stopCanceled) {
		return nil
	}
	err = i.classify(err, reason)
	i.failed = err
	return err
}

func (i *Instance) classify(err error, reason int) error {
	switch {
	case reason == stopMemory || i.lmem.refused:
		return &LimitError{Limit: LimitMemory, Value: i.limits.Memory.String()}
	case reason == stopTimeout:
		return &LimitError{Limit: LimitCallTimeout, Value: i.timeout.String()}
	case reason == stopPublishFlood:
		return &LimitError{Limit: LimitPublishRate, Value: fmt.Sprintf("%d/s", i.limits.PublishRate)}
	case reason == stopCanceled:
		return ErrStopped
	}
	if code, ok := exitCode(err); ok {
		return &ExitError{Code: code}
	}
	if interrupt.IsUnreachableTrap(err) && i.iflag.DepthExceeded() {
		return &LimitError{Limit: LimitCallDepth, Value: strconv.Itoa(interrupt.MaxDepth)}
	}
	return &TrapError{Cause: trapCause(err)}
}

// usable returns why the instance cannot be called, or nil.
func (i *Instance) usable(ctx context.Context) error {
	if i.closed {
		return ErrClosed
	}
	if i.failed != nil {
		return i.failed
	}
	return ctx.Err()
}

// Failed returns the fatal error that ended the instance, or nil. Like the
// calls, it belongs to the goroutine that drives the instance.
func (i *Instance) Failed() error { return i.failed }

// Stop interrupts the running call, if any, and makes every later call
// return ErrStopped. Unlike the other methods it may be called from any
// goroutine, at any time; the driver still calls Close.
func (i *Instance) Stop() { i.guard.stopAll() }

// TaskID is the task this instance runs.
func (i *Instance) TaskID() kernel.TaskID { return i.cfg.ID }

// Close flushes the task's partial stdout/stderr lines and frees the
// instance. It is idempotent. Call it from the goroutine that drives the
// instance, never during a call (use Stop to end a running call from
// elsewhere).
func (i *Instance) Close(ctx context.Context) error {
	i.guard.stopAll()
	if i.closed {
		return nil
	}
	i.closed = true
	i.host.wd.remove(i.guard)
	for k := range i.slot.out {
		i.slot.out[k].flush()
	}
	err := i.wmod.Close(ctx)
	i.host.slots.put(i.slot)
	return err
}

const (
	lookedAlloc = 1 << iota
	lookedOnMessage
	lookedOnTick
)

// fn returns the export name, looking it up once; nil if not exported.
func (i *Instance) fn(f *api.Function, bit uint8, name string) api.Function {
	if i.looked&bit == 0 {
		*f = i.wmod.ExportedFunction(name)
		i.looked |= bit
	}
	return *f
}

// hostLog is the host's logger for lines about this task (made on first
// use: a start should not pay for a logger it may never use).
func (i *Instance) hostLog() *slog.Logger {
	return i.host.log.With("task", string(i.cfg.ID))
}
