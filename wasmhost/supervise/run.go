package supervise

import (
	"context"
	"errors"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
)

// run is the supervisor goroutine: start, serve, record, back off, repeat.
func (s *Supervisor) run(ctx context.Context) {
	defer close(s.done)
	defer s.cancel()
	attempt := 0
	for {
		s.setState(kernel.TaskStarting, "")
		began := s.cfg.Clock.Now()
		err := s.once(ctx)
		if ctx.Err() != nil {
			s.finish(kernel.TaskStopped, nil)
			return
		}
		if err == nil {
			// A job that succeeded, or a service that exited with code 0.
			if s.cfg.Restart != kernel.RestartAlways || s.cfg.Task.Type == kernel.TypeJob {
				s.finish(kernel.TaskExited, nil)
				return
			}
		} else {
			s.log.Warn("task failed", "err", err)
			s.recordFailure(err)
		}
		if errors.Is(err, wasmhost.ErrInvalidTask) || s.cfg.Restart == kernel.RestartNever {
			s.finishErr(err)
			return
		}
		if s.cfg.Clock.Now().Sub(began) >= s.cfg.Backoff.ResetAfter {
			attempt = 0
		}
		delay := s.cfg.Backoff.Delay(attempt, s.cfg.Rand())
		attempt++
		s.mu.Lock()
		s.status.Restarts++
		s.mu.Unlock()
		s.setState(kernel.TaskBackoff, errString(err))
		select {
		case <-ctx.Done():
			s.finish(kernel.TaskStopped, nil)
			return
		case <-s.cfg.Clock.After(delay):
		}
	}
}

// once runs the task one time and returns why the run ended (nil: success).
func (s *Supervisor) once(ctx context.Context) error {
	inst, err := s.cfg.Host.Instantiate(ctx, s.cfg.Module, s.cfg.Task)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.status.StartedAt = s.cfg.Clock.Now()
	s.mu.Unlock()
	s.setState(kernel.TaskRunning, "")
	stop := context.AfterFunc(ctx, inst.Stop)
	if s.cfg.Task.Type == kernel.TypeJob {
		err = inst.Run(ctx)
	} else {
		err = s.serve(ctx, inst)
	}
	stop()
	var ee *wasmhost.ExitError
	if errors.As(err, &ee) && ee.Code == 0 {
		err = nil
	}
	stats := inst.Stats()
	inst.Close(context.Background())
	s.mu.Lock()
	s.cur = kernel.TaskUsage{}
	s.past.Messages += stats.Messages
	s.past.HandlerErrors += stats.HandlerErrors
	s.past.MemoryPeak = max(s.past.MemoryPeak, stats.MemoryPeak)
	s.past.CPUPerMessage = stats.CPUPerMessage
	s.mu.Unlock()
	return err
}

// serve feeds a service messages and ticks until a fatal error or ctx ends.
func (s *Supervisor) serve(ctx context.Context, inst *wasmhost.Instance) error {
	var tick <-chan time.Time
	if s.cfg.Tick > 0 {
		tick = s.cfg.Clock.After(s.cfg.Tick)
	}
	n := 0
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case m := <-s.queue:
			err = inst.OnMessage(ctx, m.topic, m.payload)
			if n++; n%64 == 0 || len(s.queue) == 0 {
				s.publishUsage(inst)
			}
		case <-tick:
			err = inst.OnTick(ctx)
			tick = s.cfg.Clock.After(s.cfg.Tick)
			s.publishUsage(inst)
		}
		if ctx.Err() != nil {
			return nil
		}
		if wasmhost.IsFatal(err) {
			return err
		}
		if err != nil {
			s.log.Debug("handler error", "err", err)
		}
	}
}

// publishUsage copies the instance's usage for Status (the instance's
// counters belong to this goroutine).
func (s *Supervisor) publishUsage(inst *wasmhost.Instance) {
	u := inst.Stats()
	s.mu.Lock()
	s.cur = u
	s.mu.Unlock()
}

func (s *Supervisor) setState(st kernel.TaskState, lastErr string) {
	s.mu.Lock()
	s.status.State = st
	if lastErr != "" {
		s.status.LastError = lastErr
	}
	s.status.UpdatedAt = s.cfg.Clock.Now()
	s.mu.Unlock()
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(s.Status())
	}
}

func (s *Supervisor) recordFailure(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := append(s.status.Failures, Failure{At: s.cfg.Clock.Now(), Error: err.Error()})
	if len(f) > MaxFailures {
		f = append([]Failure(nil), f[len(f)-MaxFailures:]...)
	}
	s.status.Failures = f
	if s.status.FailuresByCause == nil {
		s.status.FailuresByCause = map[string]int{}
	}
	s.status.FailuresByCause[FailureCause(err)]++
}

// Causes of a failed run that FailureCause reports besides the limits'
// names (wasmhost.LimitMemory, LimitCallTimeout, LimitPublishRate,
// LimitCallDepth).
const (
	CauseTrap  = "trap"  // the guest trapped
	CauseExit  = "exit"  // the guest exited with a nonzero code
	CauseError = "error" // anything else, e.g. the instance could not start
)

// FailureCause names why a run failed: the limit's name for a
// *wasmhost.LimitError, else CauseTrap, CauseExit or CauseError.
func FailureCause(err error) string {
	var le *wasmhost.LimitError
	var te *wasmhost.TrapError
	var ee *wasmhost.ExitError
	switch {
	case errors.As(err, &le):
		return le.Limit
	case errors.As(err, &te):
		return CauseTrap
	case errors.As(err, &ee):
		return CauseExit
	default:
		return CauseError
	}
}

func (s *Supervisor) finish(st kernel.TaskState, err error) {
	s.mu.Lock()
	s.final = err
	s.mu.Unlock()
	s.setState(st, errString(err))
}

func (s *Supervisor) finishErr(err error) { s.finish(kernel.TaskFailed, err) }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
