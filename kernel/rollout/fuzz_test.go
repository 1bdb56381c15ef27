package rollout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/rollout"
)

// FuzzNext builds rollout states from arbitrary bytes and checks what every
// step must respect: it replaces only live tasks, each once; a progressing
// step that replaces never leaves more replicas proving than the canary or
// maxParallel allow; a rollback replaces only new-version tasks with the old version.
func FuzzNext(f *testing.F) {
	f.Add(uint8(1), uint8(2), false, false, []byte{0x12, 0x34, 0x56, 0x78, 0x9a})
	f.Add(uint8(0), uint8(1), true, false, []byte{0xff, 0x00, 0x10, 0x21})
	f.Add(uint8(3), uint8(5), false, true, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	states := []kernel.TaskState{kernel.TaskPending, kernel.TaskStarting, kernel.TaskRunning, kernel.TaskBackoff,
		kernel.TaskExited, kernel.TaskFailed, kernel.TaskStopped}
	f.Fuzz(func(t *testing.T, canary, maxPar uint8, paused, back bool, tasks []byte) {
		s := rollout.State{Deployment: "app", From: 1, To: 2, Paused: paused, RollingBack: back,
			Strategy: kernel.Rollout{Canary: int(canary % 8), MaxParallel: int(maxPar % 8), HealthyFor: kernel.Duration(10 * time.Second)}}
		for i, b := range tasks {
			s.Tasks = append(s.Tasks, kernel.Task{
				ID: kernel.TaskID(fmt.Sprintf("t%d", i)), Version: 1 + int(b&1), State: states[int(b>>1)%len(states)],
				Restarts: int(b>>4) & 1, StartedAt: t0.Add(-time.Duration(b>>5) * 5 * time.Second), UpdatedAt: t0.Add(-time.Minute),
			})
		}
		st, err := rollout.Next(&s, rollout.Config{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[kernel.TaskID]kernel.Task{}
		for _, x := range s.Tasks {
			byID[x.ID] = x
		}
		seen := map[kernel.TaskID]bool{}
		for _, id := range st.Replace {
			x, ok := byID[id]
			if !ok || seen[id] {
				t.Fatalf("replaces unknown or repeated task %s", id)
			}
			seen[id] = true
			switch x.State {
			case kernel.TaskExited, kernel.TaskFailed, kernel.TaskStopped:
				t.Fatalf("replaces task %s in state %s", id, x.State)
			}
			if st.Phase == rollout.PhaseRollingBack && (x.Version != 2 || st.Target != 1) {
				t.Fatalf("rollback replaces %+v with version %d", x, st.Target)
			}
			if st.Phase == rollout.PhaseProgressing && (x.Version != 1 || st.Target != 2) {
				t.Fatalf("progress replaces %+v with version %d", x, st.Target)
			}
		}
		if st.Phase == rollout.PhaseProgressing && len(st.Replace) > 0 {
			// Replicas the scheduler placed at the new version may already
			// exceed the limit; the rollout adds to them only within it.
			limit := max(int(maxPar%8), 1, int(canary%8))
			if proving := st.Updated - st.Healthy + len(st.Replace); proving > limit {
				t.Fatalf("%d replicas proving at once, limit %d: %+v", proving, limit, st)
			}
		}
		if (paused && !back && st.Phase == rollout.PhaseProgressing) || st.Reason == "" {
			t.Fatalf("step %+v", st)
		}
	})
}
