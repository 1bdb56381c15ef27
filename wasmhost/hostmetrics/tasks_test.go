package hostmetrics_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost"
	"github.com/canopy-fleet/canopy/wasmhost/hostmetrics"
	"github.com/canopy-fleet/canopy/wasmhost/supervise"
	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testmodules.Cleanup()
	os.Exit(code)
}

type discard struct{}

func (discard) Publish(context.Context, string, []byte) error { return nil }

func load(t *testing.T, h *wasmhost.Host, name string) *wasmhost.Module {
	t.Helper()
	b, err := testmodules.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.Load(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// values gathers c and returns every sample by `name{label="value",...}`.
func values(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[f.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never reached: %s", what)
}

func TestTaskMetrics(t *testing.T) {
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	quick := supervise.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
	svc, err := supervise.Start(ctx, supervise.Config{Host: h, Module: load(t, h, "guest"), Backoff: quick,
		Task: wasmhost.TaskConfig{ID: "svc", Publish: []string{"echo/out"}, Publisher: discard{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	job, err := supervise.Start(ctx, supervise.Config{Host: h, Module: load(t, h, "job"), Restart: kernel.RestartNever,
		Task: wasmhost.TaskConfig{ID: "job", Type: kernel.TypeJob, Config: map[string]string{"mode": "exit3"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Stop()

	c := hostmetrics.New(hostmetrics.Supervisors(svc, job))
	svc.Deliver("echo", []byte("1"))
	svc.Deliver("fail", nil) // a handler error: the task keeps running
	svc.Deliver("trap", nil) // a failed run
	eventually(t, "a restart after the trap", func() bool { return svc.Status().Restarts == 1 })
	svc.Deliver("loop", nil) // stopped by the call timeout
	eventually(t, "a restart after the call timeout", func() bool {
		st := svc.Status()
		return st.Restarts == 2 && st.State == kernel.TaskRunning
	})
	job.Wait()

	v := values(t, c)
	for k, want := range map[string]float64{
		`canopy_task_state{state="running",task="svc"}`:              1,
		`canopy_task_state{state="backoff",task="svc"}`:              0,
		`canopy_task_state{state="failed",task="job"}`:               1,
		`canopy_task_restarts_total{task="svc"}`:                     2,
		`canopy_task_restarts_total{task="job"}`:                     0,
		`canopy_task_messages_total{task="svc"}`:                     4,
		`canopy_task_handler_errors_total{task="svc"}`:               1,
		`canopy_task_failures_total{cause="trap",task="svc"}`:        1,
		`canopy_task_failures_total{cause="callTimeout",task="svc"}`: 1,
		`canopy_task_failures_total{cause="memory",task="svc"}`:      0,
		`canopy_task_failures_total{cause="exit",task="job"}`:        1,
		`canopy_task_queue_overflow_total{task="svc"}`:               0,
		`canopy_task_queued_messages{task="svc"}`:                    0,
	} {
		got, ok := v[k]
		if !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if v[`canopy_task_memory_peak_bytes{task="svc"}`] <= 0 || v[`canopy_task_start_time_seconds{task="svc"}`] <= 0 {
		t.Errorf("memory peak %v and start time %v should be positive",
			v[`canopy_task_memory_peak_bytes{task="svc"}`], v[`canopy_task_start_time_seconds{task="svc"}`])
	}
	// Per task: 7 states, 7 causes and 8 other series.
	if n := testutil.CollectAndCount(c); n != 2*22 {
		t.Errorf("%d samples, want %d", n, 2*22)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestQueueOverflow: messages beyond the queue while the task is busy are
// counted per task.
func TestQueueOverflow(t *testing.T) {
	ctx := context.Background()
	h, err := wasmhost.New(ctx, wasmhost.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	s, err := supervise.Start(ctx, supervise.Config{Host: h, Module: load(t, h, "guest"), QueueSize: 1,
		Restart: kernel.RestartNever, Task: wasmhost.TaskConfig{ID: "busy",
			Limits: kernel.Limits{CallTimeout: kernel.Duration(time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c := hostmetrics.New(hostmetrics.Supervisors(s))
	s.Deliver("sleep", []byte("60000")) // holds the task
	eventually(t, "the sleep taken from the queue", func() bool {
		st := s.Status()
		return st.State == kernel.TaskRunning && st.Queued == 0 && s.Deliver("echo", nil)
	})
	for range 3 {
		s.Deliver("echo", nil)
	}
	v := values(t, c)
	if got := v[`canopy_task_queue_overflow_total{task="busy"}`]; got != 3 {
		t.Errorf("overflow %v, want 3", got)
	}
	if got := v[`canopy_task_queued_messages{task="busy"}`]; got != 1 {
		t.Errorf("queued %v, want 1", got)
	}
}
