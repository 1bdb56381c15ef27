package mesh

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// TestStreamWorkers: a stream whose handling blocks does not hold up the
// next one, a finished worker takes later streams, and Close waits for
// every worker (a worker that never exits would hang Close).
func TestStreamWorkers(t *testing.T) {
	f := memnet.NewFabric()
	n, err := New(Config{Name: "ctl", Role: kernel.RoleController, Network: f.Endpoint("ctl", kernel.RoleController)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	blocked := make(chan struct{})
	n.runStream(func() { close(blocked); <-release })
	<-blocked
	var ran atomic.Int64
	for i := 0; i < 50; i++ {
		done := make(chan struct{})
		n.runStream(func() { ran.Add(1); close(done) })
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("stream %d not handled while another blocks", i)
		}
	}
	close(release)
	if got := ran.Load(); got != 50 {
		t.Fatalf("%d of 50 handled", got)
	}
	closed := make(chan struct{})
	go func() { n.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: a worker outlived the node")
	}
}
