package profile

import (
	"context"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Node is a simulated node of a profile. Its Probe and Live have the same
// signatures as probe.Prober's, so the runtime can take either behind one
// small interface of its own.
type Node struct {
	name    string
	profile Profile
	scale   float64
	now     func() time.Time
	started time.Time
}

// NewNode returns a simulated node called name. scale multiplies the
// profile's score (see CapabilityFor); now is the clock (nil: time.Now).
func NewNode(name, profileName string, scale float64, now func() time.Time) (*Node, error) {
	p, err := Get(profileName)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Node{name: name, profile: p, scale: scale, now: now, started: now()}, nil
}

// Probe returns the node's capability.
func (n *Node) Probe(ctx context.Context) (kernel.Capability, error) {
	if err := ctx.Err(); err != nil {
		return kernel.Capability{}, err
	}
	c := n.profile.CapabilityFor(n.name, n.now(), n.scale)
	c.Live.Uptime = n.now().Sub(n.started)
	return c, nil
}

// Live returns the profile's idle figures, stamped now, with the node's
// uptime.
func (n *Node) Live(ctx context.Context) (kernel.LiveStats, error) {
	c, err := n.Probe(ctx)
	return c.Live, err
}
