package main

import (
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// --heartbeat and --lost-after that could not hold are usage errors
// naming the flags, for the server and the agent alike, before anything
// starts.
func TestLinkTimerFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--data", t.TempDir(), "--join", "127.0.0.1:1", "--lost-after", "1s"}, "--lost-after 1s must be at least 3 × --heartbeat (1.5s)"},
		{[]string{"agent", "--data", t.TempDir(), "--join", "127.0.0.1:1", "--heartbeat", "0s"}, "--heartbeat 0s"},
		{[]string{"server", "--data", t.TempDir(), "--heartbeat", "1s", "--lost-after", "2s"}, "--lost-after 2s must be at least 3 × --heartbeat (3s)"},
	} {
		_, err := runCLI(t, c.args...)
		if err == nil || exitCodeQuiet(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 with %q", c.args, err, exitCodeQuiet(err), c.want)
		}
	}
	// The keep-alive follows the heartbeat, so it stands in for beats.
	lt := linkTimers{heartbeat: 200 * time.Millisecond, lostAfter: time.Second}
	var cfg mesh.Config
	var qc quicnet.Config
	lt.applyMesh(&cfg)
	lt.applyTransport(&qc)
	if cfg.HeartbeatInterval != lt.heartbeat || cfg.LostAfter != lt.lostAfter || qc.KeepAlivePeriod != lt.heartbeat {
		t.Errorf("applied %v/%v, keep-alive %v", cfg.HeartbeatInterval, cfg.LostAfter, qc.KeepAlivePeriod)
	}
}
