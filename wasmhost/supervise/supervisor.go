package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
)

// Config configures one supervised task. Host, Module and Task are
// required; zero values elsewhere mean the defaults named on each.
type Config struct {
	Host   *wasmhost.Host
	Module *wasmhost.Module
	Task   wasmhost.TaskConfig // Task.Type selects service or job
	// Restart is the restart policy. Zero: always for a service, on-failure
	// for a job.
	Restart kernel.RestartPolicy
	// Tick is the period of canopy_on_tick calls for a service; zero: none.
	Tick time.Duration
	// QueueSize bounds the messages waiting for the task; beyond it Deliver
	// drops and counts. Zero: 256.
	QueueSize int
	Backoff   Backoff
	Clock     Clock          // nil: the wall clock
	Rand      func() float64 // uniform in [0, 1) for jitter; nil: math/rand/v2
	Logger    *slog.Logger   // nil: discard
	// OnChange, if set, is called from the supervisor goroutine after every
	// state change with the new status. It must not block for long.
	OnChange func(Status)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Host == nil {
		errs = append(errs, errors.New("host: nil"))
	}
	if c.Module == nil {
		errs = append(errs, errors.New("module: nil"))
	}
	if err := c.Task.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("task: %w", err))
	}
	switch c.Restart {
	case "", kernel.RestartAlways, kernel.RestartOnFailure, kernel.RestartNever:
	default:
		errs = append(errs, fmt.Errorf("restart: %q is not always, on-failure or never", c.Restart))
	}
	if c.Tick < 0 {
		errs = append(errs, errors.New("tick: negative"))
	}
	if c.QueueSize < 0 {
		errs = append(errs, errors.New("queueSize: negative"))
	}
	if err := c.Backoff.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Task.Type == "" {
		c.Task.Type = kernel.TypeService
	}
	if c.Restart == "" {
		c.Restart = kernel.RestartAlways
		if c.Task.Type == kernel.TypeJob {
			c.Restart = kernel.RestartOnFailure
		}
	}
	if c.QueueSize == 0 {
		c.QueueSize = 256
	}
	c.Backoff = c.Backoff.withDefaults()
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Status is what the supervisor knows about its task.
type Status struct {
	Task      kernel.TaskID
	State     kernel.TaskState
	Restarts  int
	LastError string // why the last run ended, if it failed
	StartedAt time.Time
	UpdatedAt time.Time
	Usage     kernel.TaskUsage
	// Failures are the most recent failed runs, oldest first (at most
	// MaxFailures): when and why each ended.
	Failures []Failure
	// FailuresByCause counts every failed run by its cause (FailureCause).
	FailuresByCause map[string]int
	// Queued is how many messages wait for the task now.
	Queued int
}

// Failure is one failed run of a task.
type Failure struct {
	At    time.Time
	Error string
}

// MaxFailures is how many failed runs Status keeps.
const MaxFailures = 10

type message struct {
	topic   string
	payload []byte
}

// Supervisor runs one task. Its methods are safe for concurrent use.
type Supervisor struct {
	cfg    Config
	log    *slog.Logger
	queue  chan message
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	status  Status
	cur     kernel.TaskUsage // the running instance's, as last published
	past    kernel.TaskUsage // summed over ended runs
	dropped uint64
	final   error
}

// Start validates cfg and starts supervising the task on a new goroutine.
// It runs until ctx is cancelled, Stop is called, or the restart policy
// gives up (a job that succeeded, or a failure with nothing left to try).
func Start(ctx context.Context, cfg Config) (*Supervisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("supervise %s: %w", cfg.Task.ID, err)
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	s := &Supervisor{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "supervise", "task", string(cfg.Task.ID)),
		queue:  make(chan message, cfg.QueueSize),
		cancel: cancel,
		done:   make(chan struct{}),
		status: Status{Task: cfg.Task.ID, State: kernel.TaskPending, UpdatedAt: cfg.Clock.Now()},
	}
	go s.run(ctx)
	return s, nil
}

// Deliver queues a message for the task without blocking. It returns false
// and counts the message as dropped when the queue is full or the
// supervisor has ended. The payload is kept: the caller must not change it.
func (s *Supervisor) Deliver(topic string, payload []byte) bool {
	select {
	case <-s.done:
	default:
		select {
		case s.queue <- message{topic, payload}:
			return true
		default:
		}
	}
	s.mu.Lock()
	s.dropped++
	s.mu.Unlock()
	return false
}

// Status reports the task's state, restarts, last error and usage. The
// usage of the running instance is published by the supervisor goroutine
// whenever the queue runs empty and at least every 64 messages.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Failures = append([]Failure(nil), s.status.Failures...)
	st.FailuresByCause = make(map[string]int, len(s.status.FailuresByCause))
	for c, n := range s.status.FailuresByCause {
		st.FailuresByCause[c] = n
	}
	st.Queued = len(s.queue)
	st.Usage = s.past
	cur := s.cur
	st.Usage.Messages += cur.Messages
	st.Usage.HandlerErrors += cur.HandlerErrors
	st.Usage.MemoryPeak = max(st.Usage.MemoryPeak, cur.MemoryPeak)
	if cur.CPUPerMessage != 0 {
		st.Usage.CPUPerMessage = cur.CPUPerMessage
	}
	st.Usage.MessageRate = cur.MessageRate
	st.Usage.Dropped = s.dropped
	return st
}

// Done is closed when the supervisor has ended.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Wait waits for the end and returns why: nil when a job succeeded or the
// supervisor was stopped, the last run's error when the task failed for
// good.
func (s *Supervisor) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.final
}

// Stop stops the task (a running call is interrupted) and waits for the
// supervisor goroutine to end.
func (s *Supervisor) Stop() {
	s.cancel()
	<-s.done
}
