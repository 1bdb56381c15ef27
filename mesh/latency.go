package mesh

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

const kindReport = "mesh.report"

// Report is one node's latency measurements, sent up to the root every
// ReportInterval.
type Report struct {
	From   kernel.NodeName
	Parent kernel.NodeName
	// RTT holds the round trip to each linked node (the transport's
	// smoothed RTT where it measures one, else the last heartbeat probe)
	// and to each probed alternate parent and listening sibling.
	RTT map[kernel.NodeName]time.Duration
}

// latencyGraph is the root's collection of reports. A node's entry goes
// when its route does (prune): a node deleted or gone leaves the graph.
type latencyGraph struct {
	mu     sync.Mutex
	m      map[kernel.NodeName]map[kernel.NodeName]time.Duration
	pruned time.Time // last prune, on the node's clock
}

func (g *latencyGraph) init() { g.m = map[kernel.NodeName]map[kernel.NodeName]time.Duration{} }

func (g *latencyGraph) set(from kernel.NodeName, rtt map[kernel.NodeName]time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[from] = rtt
}

// prune drops the entries of nodes this node has no route to.
func (n *Node) pruneLatency() {
	n.mu.Lock()
	known := make(map[kernel.NodeName]bool, len(n.routes))
	for name := range n.routes {
		known[name] = true
	}
	n.mu.Unlock()
	n.lat.mu.Lock()
	defer n.lat.mu.Unlock()
	n.lat.pruned = n.cfg.Clock.Now()
	for name := range n.lat.m {
		if !known[name] {
			delete(n.lat.m, name)
		}
	}
}

// Latency returns the latency graph: for each reporting node, its measured
// round trips to its linked nodes. At the root it covers the whole tree
// (the nodes it has a route to); elsewhere it holds this node's own links.
func (n *Node) Latency() map[kernel.NodeName]map[kernel.NodeName]time.Duration {
	n.pruneLatency()
	own := n.measure()
	n.lat.mu.Lock()
	defer n.lat.mu.Unlock()
	out := make(map[kernel.NodeName]map[kernel.NodeName]time.Duration, len(n.lat.m)+1)
	for k, v := range n.lat.m {
		out[k] = v
	}
	out[n.cfg.Name] = own.RTT
	return out
}

// measure takes this node's current link measurements.
func (n *Node) measure() Report {
	r := Report{From: n.cfg.Name, RTT: map[kernel.NodeName]time.Duration{}}
	n.mu.Lock()
	links := make([]*peerLink, 0, len(n.children)+1)
	if n.parent != nil {
		r.Parent = n.parent.peer.Name
		links = append(links, n.parent)
	}
	for _, l := range n.children {
		links = append(links, l)
	}
	n.mu.Unlock()
	n.mu.Lock()
	for name, d := range n.probes {
		r.RTT[name] = d
	}
	n.mu.Unlock()
	for _, l := range links {
		d := l.conn.RTT()
		if d == 0 {
			l.mu.Lock()
			d = l.probe
			l.mu.Unlock()
		}
		r.RTT[l.peer.Name] = d
	}
	return r
}

func (n *Node) reportLoop() {
	for n.sleep(n.ctx, n.cfg.ReportInterval) {
		b, err := frame.Marshal(n.measure())
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
		if err := n.Send(ctx, "", kindReport, b); err != nil {
			n.log.Debug("latency report not sent", "err", err)
		}
		cancel()
	}
}

// probeLoop measures the configured and learned alternate parents and,
// on a node that listens, its listening siblings (siblings.go): a
// connection (the transport's handshake RTT, or the dial time where it
// measures none), closed at once without a hello, so the target never
// counts it as a child. A target that does not answer loses its figure
// until it answers again.
// probeSpread bounds the random wait before probing new targets: the
// thousand children of a gateway told of new alternates at once (the
// controller among them) dial them over this long, not at once.
const probeSpread = 30 * time.Second

func (n *Node) probeLoop() {
	for {
		t := n.cfg.Clock.NewTimer(n.cfg.ProbeInterval)
		select {
		case <-t.C():
		case <-n.probeSoon:
			// New targets: probe them soon, spread over a little time so
			// the children of a gateway told of new siblings at once do
			// not all dial them at once.
			t.Stop()
			if !n.sleep(n.ctx, rand.N(min(n.cfg.ProbeInterval/8, probeSpread)+1)) {
				return
			}
		case <-n.ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
		for _, p := range n.probeTargets() {
			if n.ctx.Err() != nil {
				return
			}
			n.probe(p)
		}
	}
}

// probe measures one target. The figure is kept only when the target is
// still a probe target (and not the parent) when the probe ends: a list
// that changed meanwhile must not leave a stale figure behind.
func (n *Node) probe(p Parent) {
	// The parent, named or dialed by this address (a --join address has
	// no name), is skipped: its link measures its round trip, and a
	// probe would cost it a handshake per child per ProbeInterval.
	n.mu.Lock()
	var cur Parent
	if n.parent != nil {
		cur = Parent{Name: n.parent.peer.Name, Addr: n.linkedTo.Addr}
	}
	n.mu.Unlock()
	if (p.Name != "" && p.Name == cur.Name) || (cur.Addr != "" && p.Addr == cur.Addr) {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.DialTimeout)
	start := time.Now()
	c, err := n.cfg.Network.Dial(ctx, p.Addr, p.Name)
	cancel()
	if err != nil {
		n.log.Debug("probe failed", "addr", p.Addr, "err", err)
		if p.Name != "" {
			n.mu.Lock()
			delete(n.probes, p.Name) // no stale figure for a node gone silent
			n.mu.Unlock()
		}
		return
	}
	d := c.RTT()
	if d == 0 {
		d = time.Since(start)
	}
	name := c.Peer().Name
	c.Close()
	n.mu.Lock()
	defer n.mu.Unlock()
	if name == n.cfg.Name || (n.parent != nil && n.parent.peer.Name == name) {
		return
	}
	if !slices.ContainsFunc(n.probeTargetsLocked(), func(q Parent) bool { return q.Addr == p.Addr && (q.Name == p.Name || q.Name == "") }) {
		return
	}
	n.probes[name] = d
}

func (n *Node) onReport(_ context.Context, from kernel.NodeName, body []byte) ([]byte, error) {
	var r Report
	if err := frame.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if r.From != from {
		return nil, &RemoteError{Code: CodeBadRequest, Msg: "report for another node"}
	}
	n.lat.set(from, r.RTT)
	n.lat.mu.Lock()
	due := n.cfg.Clock.Now().Sub(n.lat.pruned) >= n.cfg.ReportInterval
	n.lat.mu.Unlock()
	if due { // a walk over the routes once per report interval, not per report
		n.pruneLatency()
	}
	return nil, nil
}

func (n *Node) registerBuiltins() {
	n.handlers[kindReport] = n.onReport
	n.handlers[kindOutbox] = n.onOutbox
}
