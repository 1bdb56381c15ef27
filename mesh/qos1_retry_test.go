package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// A QoS 1 publication that a gateway could not forward (its parent link
// was down for longer than a request) is not acknowledged to the sender's
// retry as a repeat: the retry forwards it again, and once the link heals
// the subscriber at the root gets it.
func TestQoS1RetryAfterFailedForward(t *testing.T) {
	base := fastTimers
	base.RequestTimeout = 200 * time.Millisecond
	tr, fabric := memTree(t, base)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	gw := tr.start("gw", kernel.RoleGateway, "mem:gw", "ctl")
	leaf := tr.start("leaf", kernel.RoleLeaf, "", "gw")
	got := make(chan Message, 4)
	if _, err := ctl.Subscribe("alerts/#", func(m Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "interest at the leaf", func() bool { return leaf.parentWants("alerts/x") })

	fabric.Block("gw", "ctl")
	eventually(t, "gateway cut off", func() bool { return gw.Parent() == "" })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	published := make(chan error, 1)
	go func() { published <- leaf.Publish(ctx, "alerts/x", []byte("hot"), 1) }()
	// Let the gateway's forwarding fail (several request timeouts), so
	// that the leaf retries.
	time.Sleep(5 * base.RequestTimeout)
	select {
	case err := <-published:
		t.Fatalf("publish acknowledged (%v) while the only subscriber was cut off", err)
	default:
	}
	fabric.Unblock("gw", "ctl")
	select {
	case m := <-got:
		if string(m.Data) != "hot" {
			t.Fatalf("got %q", m.Data)
		}
	case <-ctx.Done():
		t.Fatal("the subscriber never got the publication")
	}
	if err := <-published; err != nil {
		t.Fatalf("publish: %v", err)
	}
}
