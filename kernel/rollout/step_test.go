package rollout_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/rollout"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fleet is a small control plane that executes rollout steps on task
// records the way the real one does: a replaced task stops; its successor
// starts on the same node, runs after a second, and is healthy after
// healthyFor unless the version is bad.
type fleet struct {
	state rollout.State
	now   time.Time
	bad   map[int]func(node int) bool // version → which nodes see it fail
	log   []string
	seq   int
}

func newFleet(replicas int, strategy kernel.Rollout) *fleet {
	f := &fleet{now: t0, bad: map[int]func(int) bool{}}
	f.state = rollout.State{Deployment: "app", Strategy: strategy, From: 1, To: 2}
	for i := range replicas {
		f.state.Tasks = append(f.state.Tasks, kernel.Task{
			ID: kernel.TaskID(fmt.Sprintf("app-v1-n%d", i)), Deployment: "app", Version: 1,
			Node: kernel.NodeName(fmt.Sprintf("n%d", i)), State: kernel.TaskRunning, StartedAt: t0.Add(-time.Hour),
		})
	}
	return f
}

func (f *fleet) step(t *testing.T) rollout.Step {
	t.Helper()
	st, err := rollout.Next(&f.state, rollout.Config{}, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase == rollout.PhaseRollingBack {
		f.state.RollingBack = true
	}
	for _, id := range st.Replace {
		i := slices.IndexFunc(f.state.Tasks, func(x kernel.Task) bool { return x.ID == id })
		old := &f.state.Tasks[i]
		old.State = kernel.TaskStopped
		f.seq++
		f.state.Tasks = append(f.state.Tasks, kernel.Task{
			ID: kernel.TaskID(fmt.Sprintf("app-v%d-%s-%d", st.Target, old.Node, f.seq)), Deployment: "app",
			Version: st.Target, Node: old.Node, State: kernel.TaskStarting, UpdatedAt: f.now,
		})
	}
	f.log = append(f.log, fmt.Sprintf("%s %d", st.Phase, len(st.Replace)))
	return st
}

// advance moves time on, starting tasks and failing bad versions.
func (f *fleet) advance(d time.Duration) {
	f.now = f.now.Add(d)
	for i := range f.state.Tasks {
		x := &f.state.Tasks[i]
		if x.State == kernel.TaskStarting && f.now.Sub(x.UpdatedAt) >= time.Second {
			x.State, x.StartedAt = kernel.TaskRunning, x.UpdatedAt.Add(time.Second)
		}
		var node int
		fmt.Sscanf(string(x.Node), "n%d", &node)
		if bad := f.bad[x.Version]; bad != nil && bad(node) && x.State == kernel.TaskRunning {
			x.Restarts, x.LastError = 1, "trap: unreachable"
		}
	}
}

func versions(f *fleet) map[int]int {
	out := map[int]int{}
	for _, x := range f.state.Tasks {
		if x.State != kernel.TaskStopped {
			out[x.Version]++
		}
	}
	return out
}

// walk steps until the phase is terminal or the step budget runs out.
func walk(t *testing.T, f *fleet) rollout.Step {
	t.Helper()
	for range 100 {
		st := f.step(t)
		switch st.Phase {
		case rollout.PhaseComplete, rollout.PhaseRolledBack, rollout.PhaseFailed, rollout.PhasePaused:
			return st
		}
		if !st.NextCheck.IsZero() && st.NextCheck.After(f.now) {
			f.advance(st.NextCheck.Sub(f.now))
		} else {
			f.advance(time.Second)
		}
	}
	t.Fatalf("rollout did not finish: %v", f.log)
	return rollout.Step{}
}

func TestRolloutSucceeds(t *testing.T) {
	f := newFleet(7, kernel.Rollout{Canary: 1, MaxParallel: 2, HealthyFor: kernel.Duration(10 * time.Second)})
	first := f.step(t)
	if first.Phase != rollout.PhaseProgressing || len(first.Replace) != 1 || !strings.Contains(first.Reason, "canary") {
		t.Fatalf("first step should start one canary: %+v", first)
	}
	// Nothing more while the canary proves itself.
	f.advance(5 * time.Second)
	if st := f.step(t); len(st.Replace) != 0 || !strings.Contains(st.Reason, "canary") || st.NextCheck != t0.Add(11*time.Second) {
		t.Fatalf("during the canary: %+v", st)
	}
	end := walk(t, f)
	if end.Phase != rollout.PhaseComplete || end.Updated != 7 || end.Healthy != 7 {
		t.Fatalf("end: %+v", end)
	}
	if v := versions(f); v[1] != 0 || v[2] != 7 {
		t.Fatalf("versions %v", v)
	}
	// Never more than maxParallel replicas proving at once after the canary.
	var batches []int
	for _, l := range f.log {
		var n int
		var p string
		fmt.Sscanf(l, "%s %d", &p, &n)
		if n > 0 {
			batches = append(batches, n)
		}
	}
	t.Logf("log %v", f.log)
	if want := []int{1, 2, 2, 2}; !slices.Equal(batches, want) {
		t.Fatalf("batches %v, want %v (log %v)", batches, want, f.log)
	}
}

func TestCanaryFailsAndRollsBack(t *testing.T) {
	f := newFleet(5, kernel.Rollout{Canary: 1, MaxParallel: 2, HealthyFor: kernel.Duration(10 * time.Second)})
	f.bad[2] = func(int) bool { return true }
	end := walk(t, f)
	if end.Phase != rollout.PhaseRolledBack {
		t.Fatalf("end %+v, log %v", end, f.log)
	}
	if v := versions(f); v[2] != 0 || v[1] != 5 {
		t.Fatalf("versions %v", v)
	}
	// Only the canary ever ran version 2.
	if !slices.Contains(f.log, "rolling-back 1") {
		t.Fatalf("log %v", f.log)
	}
}

func TestMidRolloutFailureRollsBack(t *testing.T) {
	f := newFleet(8, kernel.Rollout{Canary: 1, MaxParallel: 2, HealthyFor: kernel.Duration(10 * time.Second)})
	// Version 2 fails only on nodes 5..7: the canary (n0) and the first
	// batches pass, a later batch fails.
	f.bad[2] = func(n int) bool { return n >= 5 }
	var failing rollout.Step
	for range 100 {
		st := f.step(t)
		if st.Phase == rollout.PhaseRollingBack {
			failing = st
			break
		}
		f.advance(time.Second)
	}
	if len(failing.Failing) == 0 || failing.Target != 1 || len(failing.Replace) < 5 || !strings.Contains(failing.Reason, "failing") {
		t.Fatalf("rollback step: %+v (log %v)", failing, f.log)
	}
	end := walk(t, f)
	if end.Phase != rollout.PhaseRolledBack {
		t.Fatalf("end %+v", end)
	}
	if v := versions(f); v[1] != 8 || v[2] != 0 {
		t.Fatalf("versions %v", v)
	}
}

func TestNoAutoRollbackStops(t *testing.T) {
	off := false
	f := newFleet(4, kernel.Rollout{Canary: 1, MaxParallel: 1, HealthyFor: kernel.Duration(time.Second), AutoRollback: &off})
	f.bad[2] = func(int) bool { return true }
	end := walk(t, f)
	if end.Phase != rollout.PhaseFailed || len(end.Replace) != 0 || !strings.Contains(end.Reason, "autoRollback is off") {
		t.Fatalf("end %+v", end)
	}
	if v := versions(f); v[1] != 3 || v[2] != 1 {
		t.Fatalf("versions %v: only the canary should have changed", v)
	}
}

func TestPauseAndResume(t *testing.T) {
	f := newFleet(4, kernel.Rollout{MaxParallel: 1, HealthyFor: kernel.Duration(time.Second)})
	f.step(t)
	f.advance(5 * time.Second)
	f.state.Paused = true
	for range 3 {
		if st := f.step(t); st.Phase != rollout.PhasePaused || len(st.Replace) != 0 || st.Updated != 1 {
			t.Fatalf("paused: %+v", st)
		}
		f.advance(time.Minute)
	}
	f.state.Paused = false
	if end := walk(t, f); end.Phase != rollout.PhaseComplete {
		t.Fatalf("after resume: %+v", end)
	}
}

func TestUndo(t *testing.T) {
	f := newFleet(3, kernel.Rollout{MaxParallel: 3, HealthyFor: kernel.Duration(time.Second)})
	f.step(t)
	f.advance(10 * time.Second)
	f.state.RollingBack = true // canopy rollout undo
	if end := walk(t, f); end.Phase != rollout.PhaseRolledBack || versions(f)[1] != 3 {
		t.Fatalf("undo: %+v %v", end, versions(f))
	}
}

func TestStuckReplicaFailsAtDeadline(t *testing.T) {
	s := rollout.State{Deployment: "app", From: 1, To: 2, Strategy: kernel.Rollout{MaxParallel: 1},
		Tasks: []kernel.Task{
			{ID: "a", Version: 2, State: kernel.TaskPending, UpdatedAt: t0},
			{ID: "b", Version: 1, State: kernel.TaskRunning, StartedAt: t0.Add(-time.Hour)},
		}}
	st, _ := rollout.Next(&s, rollout.Config{ProgressDeadline: time.Minute}, t0.Add(30*time.Second))
	if st.Phase != rollout.PhaseProgressing || st.NextCheck != t0.Add(time.Minute) {
		t.Fatalf("before the deadline: %+v", st)
	}
	st, _ = rollout.Next(&s, rollout.Config{ProgressDeadline: time.Minute}, t0.Add(time.Minute))
	if st.Phase != rollout.PhaseRollingBack || !slices.Equal(st.Failing, []kernel.TaskID{"a"}) {
		t.Fatalf("at the deadline: %+v", st)
	}
}

func TestFirstVersionCannotRollBack(t *testing.T) {
	s := rollout.State{Deployment: "app", To: 1, Tasks: []kernel.Task{
		{ID: "a", Version: 1, State: kernel.TaskRunning, StartedAt: t0, Usage: kernel.TaskUsage{HandlerErrors: 3}},
	}}
	st, err := rollout.Next(&s, rollout.Config{}, t0.Add(time.Minute))
	if err != nil || st.Phase != rollout.PhaseFailed || !strings.Contains(st.Reason, "no previous version") {
		t.Fatalf("%+v %v", st, err)
	}
	s.Tasks[0].Usage.HandlerErrors = 0
	if st, _ := rollout.Next(&s, rollout.Config{}, t0.Add(time.Minute)); st.Phase != rollout.PhaseComplete {
		t.Fatalf("healthy first version: %+v", st)
	}
}

func TestInvalidState(t *testing.T) {
	for _, tc := range []struct {
		s    rollout.State
		cfg  rollout.Config
		want string
	}{
		{rollout.State{To: 1}, rollout.Config{}, "deployment: required"},
		{rollout.State{Deployment: "a"}, rollout.Config{}, "to: version must be positive"},
		{rollout.State{Deployment: "a", From: 2, To: 2}, rollout.Config{}, "from:"},
		{rollout.State{Deployment: "a", To: 2, Strategy: kernel.Rollout{MaxParallel: -1, Canary: -1}}, rollout.Config{}, "strategy.maxParallel"},
		{rollout.State{Deployment: "a", To: 2}, rollout.Config{ProgressDeadline: -1}, "progressDeadline"},
	} {
		if _, err := rollout.Next(&tc.s, tc.cfg, t0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.s, err, tc.want)
		}
	}
}

// TestDeterministic: the same state in another task order gives the same
// step.
func TestDeterministic(t *testing.T) {
	f := newFleet(6, kernel.Rollout{MaxParallel: 3, HealthyFor: kernel.Duration(time.Second)})
	a, _ := rollout.Next(&f.state, rollout.Config{}, t0)
	slices.Reverse(f.state.Tasks)
	b, _ := rollout.Next(&f.state, rollout.Config{}, t0)
	if !slices.Equal(a.Replace, b.Replace) || a.Reason != b.Reason {
		t.Fatalf("%+v\n%+v", a, b)
	}
}
