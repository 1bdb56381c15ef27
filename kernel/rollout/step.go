package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Step is what the control plane should do now.
type Step struct {
	Phase Phase `json:"phase"`
	// Replace lists tasks to replace, each on its own node, with a task of
	// version Target: start the new one, stop the old.
	Replace []kernel.TaskID `json:"replace,omitempty"`
	Target  int             `json:"target,omitempty"`
	// Failing lists the replicas of the new version found unhealthy: the
	// cause of a rollback or a failed phase.
	Failing []kernel.TaskID `json:"failing,omitempty"`
	// NextCheck is when the next step may differ with no task changing:
	// when the youngest replica still proving itself reaches healthyFor,
	// or its progress deadline. Zero when only a task change can matter.
	NextCheck time.Time `json:"nextCheck,omitzero"`
	// Updated, Healthy and Total count replicas: of the new version, of
	// those the healthy ones, and all live replicas.
	Updated int `json:"updated"`
	Healthy int `json:"healthy"`
	Total   int `json:"total"`
	// Reason says why, in a sentence.
	Reason string `json:"reason"`
}

// health is what a step knows about one live replica.
type health uint8

const (
	proving health = iota // not yet running for healthyFor
	healthy
	failing
)

// Next decides the rollout's next step at now.
func Next(s *State, cfg Config, now time.Time) (Step, error) {
	if err := s.Validate(); err != nil {
		return Step{}, fmt.Errorf("rollout %s: %w", s.Deployment, err)
	}
	if err := cfg.Validate(); err != nil {
		return Step{}, fmt.Errorf("rollout config: %w", err)
	}
	cfg = cfg.withDefaults()
	healthyFor := s.Strategy.HealthyFor.D()
	var newer, older []kernel.Task
	var failingIDs []kernel.TaskID
	st := Step{Target: s.To}
	var next time.Time
	for _, t := range s.Tasks {
		if t.Version == s.To && (t.State == kernel.TaskFailed || t.State == kernel.TaskStopped && t.LastError != "") {
			failingIDs = append(failingIDs, t.ID) // stopped for good by its restart policy
		}
		if !live(t.State) {
			continue
		}
		st.Total++
		if t.Version != s.To {
			older = append(older, t)
			continue
		}
		newer = append(newer, t)
		switch h, at := judge(&t, healthyFor, cfg.ProgressDeadline, now); h {
		case healthy:
			st.Healthy++
		case failing:
			failingIDs = append(failingIDs, t.ID)
		default:
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
	}
	st.Updated = len(newer)
	slices.Sort(failingIDs)
	st.Failing = failingIDs

	switch {
	case s.RollingBack:
		return rollBack(s, st, newer, "rollback in progress"), nil
	case len(failingIDs) > 0 && s.autoRollback() && s.From > 0:
		return rollBack(s, st, newer, "new version failing: "+joinIDs(failingIDs)), nil
	case len(failingIDs) > 0:
		st.Phase = PhaseFailed
		why := "autoRollback is off"
		if s.From == 0 {
			why = "there is no previous version"
		}
		st.Reason = fmt.Sprintf("new version %d failing (%s) and %s: waiting for an operator", s.To, joinIDs(failingIDs), why)
		return st, nil
	case s.Paused:
		st.Phase = PhasePaused
		st.Reason = fmt.Sprintf("paused with %d of %d replicas on version %d", st.Updated, st.Total, s.To)
		return st, nil
	}

	st.Phase = PhaseProgressing
	st.NextCheck = next
	proving := len(newer) - st.Healthy
	if len(older) == 0 {
		if proving == 0 {
			st.Phase = PhaseComplete
			st.NextCheck = time.Time{}
			st.Reason = fmt.Sprintf("all %d replicas run version %d and are healthy", st.Total, s.To)
			return st, nil
		}
		st.Reason = fmt.Sprintf("all replicas updated; %d proving themselves for %s", proving, healthyFor)
		return st, nil
	}
	order(older)
	if canary := s.Strategy.Canary; canary > 0 && st.Healthy < canary {
		if len(newer) < canary {
			n := min(canary-len(newer), len(older))
			st.Replace = ids(older[:n])
			st.Reason = fmt.Sprintf("starting %d canary replica(s) of version %d", n, s.To)
			return st, nil
		}
		st.Reason = fmt.Sprintf("waiting for %d canary replica(s) to run healthy for %s", canary-st.Healthy, healthyFor)
		return st, nil
	}
	slots := max(s.Strategy.MaxParallel, 1) - proving
	if slots <= 0 {
		st.Reason = fmt.Sprintf("waiting for %d updated replica(s) to run healthy for %s (maxParallel %d)", proving, healthyFor, max(s.Strategy.MaxParallel, 1))
		return st, nil
	}
	n := min(slots, len(older))
	st.Replace = ids(older[:n])
	st.Reason = fmt.Sprintf("replacing %d replica(s) with version %d; %d left", n, s.To, len(older)-n)
	return st, nil
}

// rollBack replaces every replica of the new version with the previous
// version at once: the previous version is known good, and the failing one
// should stop serving as soon as possible.
func rollBack(s *State, st Step, newer []kernel.Task, why string) Step {
	if s.From == 0 {
		st.Phase = PhaseFailed
		st.Reason = why + "; there is no previous version to roll back to"
		return st
	}
	st.Target = s.From
	if len(newer) == 0 {
		st.Phase = PhaseRolledBack
		st.Reason = fmt.Sprintf("every replica runs version %d again", s.From)
		return st
	}
	order(newer)
	st.Phase = PhaseRollingBack
	st.Replace = ids(newer)
	st.Reason = fmt.Sprintf("%s; replacing %d replica(s) with version %d", why, len(newer), s.From)
	return st
}

// judge says whether a replica of the new version is healthy, failing or
// still proving itself, and when proving, the time that may change.
func judge(t *kernel.Task, healthyFor, deadline time.Duration, now time.Time) (health, time.Time) {
	if t.State == kernel.TaskBackoff || t.Restarts > 0 || t.Usage.HandlerErrors > 0 {
		return failing, time.Time{}
	}
	since := t.UpdatedAt
	if since.IsZero() || (!t.StartedAt.IsZero() && t.StartedAt.Before(since)) {
		since = t.StartedAt
	}
	if t.State == kernel.TaskRunning && !t.StartedAt.IsZero() {
		ok := t.StartedAt.Add(healthyFor)
		if !now.Before(ok) {
			return healthy, time.Time{}
		}
		return proving, ok
	}
	if since.IsZero() {
		return proving, time.Time{}
	}
	limit := since.Add(deadline)
	if !now.Before(limit) {
		return failing, time.Time{}
	}
	return proving, limit
}

// live reports whether a task in state s is a replica that runs or will.
func live(s kernel.TaskState) bool {
	switch s {
	case kernel.TaskPending, kernel.TaskStarting, kernel.TaskRunning, kernel.TaskBackoff:
		return true
	}
	return false
}

// order puts the tasks to replace first first: those not running, then by
// ID, so the same state always gives the same step.
func order(ts []kernel.Task) {
	slices.SortFunc(ts, func(a, b kernel.Task) int {
		ra, rb := a.State == kernel.TaskRunning, b.State == kernel.TaskRunning
		if ra != rb {
			if !ra {
				return -1
			}
			return 1
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
}

func ids(ts []kernel.Task) []kernel.TaskID {
	out := make([]kernel.TaskID, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func joinIDs(ids []kernel.TaskID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}
