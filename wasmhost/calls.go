package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// sampleEvery is how often (in messages) handler time is measured for
// Stats; reading the clock on every message would cost more than the rest
// of the host's per-message work.
const sampleEvery = 1024

// OnMessage delivers one message to canopy_on_message and waits for it to
// return. The topic and payload are written into a guest region obtained
// from canopy_alloc, which is reused for later messages while it is big
// enough (the guest must keep it allocated). It returns nil, a *HandlerError
// (the handler returned non-zero; the instance stays usable), ErrNoHandler,
// a non-fatal error for a message larger than the memory limit, or a fatal
// error. ctx is checked before the call; the call itself is
// bounded by the call timeout.
func (i *Instance) OnMessage(ctx context.Context, topic string, payload []byte) error {
	if err := i.usable(ctx); err != nil {
		return err
	}
	onMsg := i.onMsgFn
	if onMsg == nil {
		if onMsg = i.fn(&i.onMsgFn, lookedOnMessage, ExportOnMessage); onMsg == nil {
			return fmt.Errorf("%s: %w", ExportOnMessage, ErrNoHandler)
		}
	}
	need := uint64(len(topic)) + uint64(len(payload))
	if need > math.MaxInt32 || need > uint64(i.limits.Memory) {
		// It can never fit: asking canopy_alloc for it would grow memory
		// past the limit and end the task over one message.
		return fmt.Errorf("message of %d bytes on %s: %w (memory limit %s)", need, topic, errMessageTooLarge, i.limits.Memory)
	}
	if uint32(need) > i.regionCap || i.region == 0 {
		if err := i.grow(uint32(need)); err != nil {
			return err
		}
	}
	buf, ok := i.mem.Read(i.region, uint32(need))
	if !ok {
		i.failed = fmt.Errorf("%s region [%d, +%d) is out of bounds", ExportAlloc, i.region, need)
		return i.failed
	}
	copy(buf, topic)
	copy(buf[len(topic):], payload)
	st := i.stack[:4]
	st[0], st[1] = uint64(i.region), uint64(len(topic))
	st[2], st[3] = uint64(i.region)+uint64(len(topic)), uint64(len(payload))
	var t0 time.Time
	if i.messages%sampleEvery == 0 {
		t0 = time.Now()
	}
	i.messages++ // delivered, whether handled or not
	if err := i.call(onMsg, st); err != nil {
		return err
	}
	if !t0.IsZero() {
		i.sampleNanos += int64(time.Since(t0))
		i.samples++
	}
	if rc := int32(st[0]); rc != 0 {
		i.handlerErrors++
		return &HandlerError{Export: ExportOnMessage, Code: rc}
	}
	return nil
}

// grow asks the guest for a region of at least need bytes (rounded up to a
// power of two, at least 256, unless that would take more than a quarter of
// the memory limit: a message that fits must not fail for the rounding).
func (i *Instance) grow(need uint32) error {
	alloc := i.fn(&i.allocFn, lookedAlloc, ExportAlloc)
	if alloc == nil {
		return fmt.Errorf("%s: %w", ExportAlloc, ErrNoHandler)
	}
	size := max(uint32(256), need)
	if size&(size-1) != 0 && size < 1<<30 {
		if up := uint32(1) << (32 - bits.LeadingZeros32(size)); uint64(up) <= uint64(i.limits.Memory)/4 {
			size = up
		}
	}
	s := i.stack[:1]
	s[0] = uint64(size)
	if err := i.call(alloc, s); err != nil {
		return fmt.Errorf("%s: %w", ExportAlloc, err)
	}
	ptr := uint32(s[0])
	if ptr == 0 || uint64(ptr)+uint64(size) > uint64(i.mem.Size()) {
		i.failed = fmt.Errorf("%s(%d) returned %d: not a region of guest memory", ExportAlloc, size, int32(ptr))
		return i.failed
	}
	i.region, i.regionCap = ptr, size
	return nil
}

// OnTick calls canopy_on_tick. Errors as for OnMessage.
func (i *Instance) OnTick(ctx context.Context) error {
	if err := i.usable(ctx); err != nil {
		return err
	}
	onTick := i.fn(&i.onTickFn, lookedOnTick, ExportOnTick)
	if onTick == nil {
		return fmt.Errorf("%s: %w", ExportOnTick, ErrNoHandler)
	}
	s := i.stack[:1]
	if err := i.call(onTick, s); err != nil {
		return err
	}
	if rc := int32(s[0]); rc != 0 {
		i.handlerErrors++
		return &HandlerError{Export: ExportOnTick, Code: rc}
	}
	return nil
}

// Run runs a job: _start to completion under the call timeout. It returns
// nil when _start returns or calls proc_exit(0), an *ExitError for another
// exit code, or the fatal error that stopped it. Cancelling ctx stops it.
// A job runs once; Run again returns the first result's error or ErrClosed.
func (i *Instance) Run(ctx context.Context) error {
	if err := i.usable(ctx); err != nil {
		return err
	}
	if i.cfg.Type != kernel.TypeJob {
		return errors.New("run: the task is a service, not a job")
	}
	fn := i.wmod.ExportedFunction(ExportStart)
	stop := context.AfterFunc(ctx, func() { i.guard.stop(stopCanceled) })
	defer stop()
	err := i.call(fn, i.stack[:1])
	if errors.Is(err, ErrStopped) && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrStopped, ctx.Err())
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Code == 0 {
		err = nil
	}
	if i.failed == nil {
		i.failed = errJobDone
	}
	return err
}

var errJobDone = errors.New("job has run")

// Stats reports what the instance has used so far. Like the calls, it
// belongs to the goroutine that drives the instance (a supervisor publishes
// a snapshot for others).
func (i *Instance) Stats() kernel.TaskUsage {
	u := kernel.TaskUsage{
		MemoryPeak:    kernel.Bytes(i.lmem.peak.Load()),
		Messages:      i.messages,
		HandlerErrors: i.handlerErrors,
	}
	if i.samples > 0 {
		u.CPUPerMessage = time.Duration(i.sampleNanos / i.samples)
	}
	if d := i.clock().Sub(i.started).Seconds(); d > 0 {
		u.MessageRate = float64(u.Messages) / d
	}
	return u
}

// Published is how many messages the task has published.
func (i *Instance) Published() uint64 { return i.published.Load() }

// LogDropped is how many log lines were dropped by the log rate limit.
func (i *Instance) LogDropped() uint64 { return i.tlog.dropped.Load() }

// Call calls any exported function of the task with raw parameters, under
// the same limits as the ABI calls (call timeout, memory), and returns its
// results. It is for tools and benchmarks (a device's wasm score, say); the
// ABI exports have their own methods. A fatal error ends the instance as
// for OnMessage.
func (i *Instance) Call(ctx context.Context, name string, params ...uint64) ([]uint64, error) {
	if err := i.usable(ctx); err != nil {
		return nil, err
	}
	fn := i.wmod.ExportedFunction(name)
	if fn == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNoHandler)
	}
	def := fn.Definition()
	if len(params) != len(def.ParamTypes()) {
		return nil, fmt.Errorf("%s takes %d parameters, got %d", name, len(def.ParamTypes()), len(params))
	}
	stack := make([]uint64, max(len(params), len(def.ResultTypes())))
	copy(stack, params)
	if err := i.call(fn, stack); err != nil {
		return nil, err
	}
	return stack[:len(def.ResultTypes())], nil
}
