package hostmetrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
	"github.com/canopy-fleet/canopy/wasmhost/supervise"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append([]string{"task"}, labels...), nil)
}

var (
	stateDesc     = desc("canopy_task_state", "1 for the task's current state, 0 for the others.", "state")
	restartsDesc  = desc("canopy_task_restarts_total", "Times the supervisor restarted the task after a failed run.")
	messagesDesc  = desc("canopy_task_messages_total", "Messages the task's handler was called with.")
	errorsDesc    = desc("canopy_task_handler_errors_total", "Handler calls that returned an error code.")
	overflowDesc  = desc("canopy_task_queue_overflow_total", "Messages dropped because the task's queue was full.")
	queuedDesc    = desc("canopy_task_queued_messages", "Messages waiting for the task now.")
	memoryDesc    = desc("canopy_task_memory_peak_bytes", "High-water mark of the task's linear memory.")
	cpuDesc       = desc("canopy_task_cpu_per_message_seconds", "Mean time in the handler per message, in the current or last run.")
	failuresDesc  = desc("canopy_task_failures_total", "Failed runs of the task by cause: the limit that stopped it, trap, exit or error.", "cause")
	startTimeDesc = desc("canopy_task_start_time_seconds", "Unix time the task's current or last run started.")
)

// states are reported for every task, so a state's series exists before the
// task first enters it.
var states = []kernel.TaskState{kernel.TaskPending, kernel.TaskStarting, kernel.TaskRunning,
	kernel.TaskBackoff, kernel.TaskExited, kernel.TaskFailed, kernel.TaskStopped}

// causes are reported at zero until they happen, for the same reason.
var causes = []string{wasmhost.LimitMemory, wasmhost.LimitCallTimeout, wasmhost.LimitPublishRate,
	wasmhost.LimitCallDepth, supervise.CauseTrap, supervise.CauseExit, supervise.CauseError}

// Tasks is a prometheus.Collector of supervised tasks' Status, one set of
// series per task ID. The IDs must be distinct.
type Tasks struct {
	list func() []supervise.Status
}

// New returns a collector that calls list at each scrape for the statuses
// of the tasks to report; list is called from the scraping goroutine.
func New(list func() []supervise.Status) *Tasks { return &Tasks{list} }

// Supervisors returns a list function for a fixed set of supervisors.
func Supervisors(sups ...*supervise.Supervisor) func() []supervise.Status {
	return func() []supervise.Status {
		out := make([]supervise.Status, len(sups))
		for i, s := range sups {
			out[i] = s.Status()
		}
		return out
	}
}

// Describe implements prometheus.Collector.
func (c *Tasks) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{stateDesc, restartsDesc, messagesDesc, errorsDesc, overflowDesc,
		queuedDesc, memoryDesc, cpuDesc, failuresDesc, startTimeDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Tasks) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.list() {
		collect(ch, st)
	}
}

func collect(ch chan<- prometheus.Metric, st supervise.Status) {
	id := string(st.Task)
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, append([]string{id}, labels...)...)
	}
	for _, s := range states {
		v := 0.0
		if s == st.State {
			v = 1
		}
		emit(stateDesc, prometheus.GaugeValue, v, string(s))
	}
	u := st.Usage
	emit(restartsDesc, prometheus.CounterValue, float64(st.Restarts))
	emit(messagesDesc, prometheus.CounterValue, float64(u.Messages))
	emit(errorsDesc, prometheus.CounterValue, float64(u.HandlerErrors))
	emit(overflowDesc, prometheus.CounterValue, float64(u.Dropped))
	emit(queuedDesc, prometheus.GaugeValue, float64(st.Queued))
	emit(memoryDesc, prometheus.GaugeValue, float64(u.MemoryPeak))
	emit(cpuDesc, prometheus.GaugeValue, u.CPUPerMessage.Seconds())
	for _, cause := range causes {
		emit(failuresDesc, prometheus.CounterValue, float64(st.FailuresByCause[cause]), cause)
	}
	for cause, n := range st.FailuresByCause {
		if !slices.Contains(causes, cause) {
			emit(failuresDesc, prometheus.CounterValue, float64(n), cause)
		}
	}
	if !st.StartedAt.IsZero() {
		emit(startTimeDesc, prometheus.GaugeValue, float64(st.StartedAt.UnixNano())/1e9)
	}
}
