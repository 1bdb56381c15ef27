package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// linkTimers are the flags that set how soon a silent link is noticed:
// `canopy server` and `canopy agent` take them.
type linkTimers struct {
	heartbeat, lostAfter time.Duration
}

func (t *linkTimers) addFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&t.heartbeat, "heartbeat", 500*time.Millisecond, "how often each link's liveness is checked and a QUIC keep-alive sent when it is idle")
	fs.DurationVar(&t.lostAfter, "lost-after", 2*time.Second, "how long a parent or child may go silent before it is declared lost (at least 3 heartbeats)")
}

// check reports flags that make no sense, naming them.
func (t linkTimers) check() error {
	if t.heartbeat <= 0 {
		return fmt.Errorf("--heartbeat %v: want a positive duration", t.heartbeat)
	}
	if t.lostAfter < 3*t.heartbeat {
		return fmt.Errorf("--lost-after %v must be at least 3 × --heartbeat (%v), so normal jitter never looks like a loss", t.lostAfter, 3*t.heartbeat)
	}
	return nil
}

// applyMesh sets the mesh's heartbeat timers.
func (t linkTimers) applyMesh(cfg *mesh.Config) {
	cfg.HeartbeatInterval, cfg.LostAfter = t.heartbeat, t.lostAfter
}

// applyTransport sets the transport's keep-alive: one every heartbeat
// interval, at most a third of LostAfter, so the keep-alives stand in for
// heartbeat messages (mesh liveness).
func (t linkTimers) applyTransport(qc *quicnet.Config) { qc.KeepAlivePeriod = t.heartbeat }
