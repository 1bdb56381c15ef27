package rollout

import (
	"errors"
	"fmt"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Phase is where a rollout is.
type Phase string

// Phases.
const (
	// PhaseProgressing: replicas are being replaced, or the replaced ones
	// are proving themselves for healthyFor.
	PhaseProgressing Phase = "progressing"
	// PhasePaused: an operator paused the rollout; nothing is replaced.
	PhasePaused Phase = "paused"
	// PhaseComplete: every replica runs the new version and is healthy.
	PhaseComplete Phase = "complete"
	// PhaseRollingBack: the new version failed (or an operator undid the
	// rollout); its replicas are being replaced with the previous version.
	PhaseRollingBack Phase = "rolling-back"
	// PhaseRolledBack: every replica runs the previous version again.
	PhaseRolledBack Phase = "rolled-back"
	// PhaseFailed: the new version failed and there is no automatic
	// rollback (autoRollback: false, or no previous version); the rollout
	// stops until an operator acts.
	PhaseFailed Phase = "failed"
)

// State is what a rollout step depends on. The control plane keeps it with
// the deployment.
type State struct {
	Deployment string `json:"deployment"`
	// Strategy is the manifest's rollout section.
	Strategy kernel.Rollout `json:"strategy"`
	// From is the version being replaced, the last one known good; 0 when
	// this is the deployment's first version.
	From int `json:"from"`
	// To is the version being rolled out.
	To int `json:"to"`
	// Tasks are the deployment's tasks, every version, in any order.
	// Tasks that are stopped, exited or failed for good count only as
	// evidence of failure of their version.
	Tasks []kernel.Task `json:"tasks"`
	// Paused holds the rollout where it is.
	Paused bool `json:"paused,omitempty"`
	// RollingBack is set once a step returned PhaseRollingBack (or an
	// operator ran `canopy rollout undo`), so the rollback finishes even
	// after the failing replicas are gone.
	RollingBack bool `json:"rollingBack,omitempty"`
}

// Config tunes rollout decisions. The zero value means every default.
type Config struct {
	// ProgressDeadline is how long a replica of the new version may take
	// to become healthy, counted from when it was placed (Task.UpdatedAt)
	// or started, before it counts as failed (default 10m).
	ProgressDeadline time.Duration
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.ProgressDeadline < 0 {
		errs = append(errs, errors.New("progressDeadline: must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.ProgressDeadline == 0 {
		c.ProgressDeadline = 10 * time.Minute
	}
	return c
}

// Validate reports what makes a state impossible to decide on.
func (s *State) Validate() error {
	var errs []error
	if s.Deployment == "" {
		errs = append(errs, errors.New("deployment: required"))
	}
	if s.To <= 0 {
		errs = append(errs, fmt.Errorf("to: version must be positive, got %d", s.To))
	}
	if s.From < 0 || (s.From != 0 && s.From == s.To) {
		errs = append(errs, fmt.Errorf("from: must be 0 or a version other than to, got %d", s.From))
	}
	if s.Strategy.MaxParallel < 0 {
		errs = append(errs, errors.New("strategy.maxParallel: must not be negative"))
	}
	if s.Strategy.Canary < 0 {
		errs = append(errs, errors.New("strategy.canary: must not be negative"))
	}
	return errors.Join(errs...)
}

// autoRollback is the manifest's autoRollback, true when unset.
func (s *State) autoRollback() bool {
	return s.Strategy.AutoRollback == nil || *s.Strategy.AutoRollback
}
