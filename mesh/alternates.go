package mesh

import (
	"hash/fnv"
	"slices"
	"sort"

	"github.com/canopy-fleet/canopy/kernel"
)

// Alternates. A parent tells each child where it may link when this
// parent is lost: for a child of gateway G, G's listening siblings (which
// G learns from its own parent, siblings.go) and G's own parent; for a
// child of a root, nothing (there is one controller). The list rides in
// the siblings message, sent to every child when it links and again
// whenever the list changes.
//
// A child keeps the list it last heard (Config.Alternates before the
// first), probes its entries with its configured alternates (latency.go),
// and after losing its parent dials the configured parents and the
// learned ones in order, the lost parent last. It stays on whichever
// parent it reaches: it does not move back to its primary when that
// returns (a move costs every node below it a relink; the primary is
// tried first again when the current parent is lost).

// Alternates is the list of alternate parents this node last learned from
// a parent (or was started with in Config.Alternates): the parent it is
// linked to when that is not a configured one, then the parent's list.
// Saved and given back as Config.Alternates, it brings a restarted node
// whose primary is gone back to where it was.
func (n *Node) Alternates() []Parent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.learned)
}

// candidatesLocked lists the parents to dial: the configured ones, then
// the learned alternates not among them, with lost (the parent just
// lost, if any) moved to the end. n.mu must be held.
func (n *Node) candidatesLocked(lost Parent) []Parent {
	out := make([]Parent, 0, len(n.cfg.Parents)+len(n.learned))
	var last []Parent
	add := func(p Parent) {
		for _, q := range out {
			if samePeer(p, q) {
				return
			}
		}
		for _, q := range last {
			if samePeer(p, q) {
				return
			}
		}
		if lost.Addr != "" && samePeer(p, lost) {
			last = append(last, p)
			return
		}
		out = append(out, p)
	}
	for _, p := range n.cfg.Parents {
		add(p)
	}
	for _, p := range n.learned {
		add(p)
	}
	return append(out, last...)
}

// samePeer reports whether a and b name the same node: by name when both
// have one, else by address.
func samePeer(a, b Parent) bool {
	if a.Name != "" && b.Name != "" {
		return a.Name == b.Name
	}
	return a.Addr == b.Addr
}

// setLearnedLocked replaces the learned alternates with those parent l
// sent, leaving out this node and l itself; it returns the new list and
// whether it changed. n.mu must be held.
func (n *Node) setLearnedLocked(l *peerLink, in []siblingAddr) ([]Parent, bool) {
	next := make([]Parent, 0, len(in)+1)
	if cur := n.linkedTo; cur.Addr != "" && !slices.ContainsFunc(n.cfg.Parents, func(p Parent) bool { return samePeer(p, cur) }) {
		next = append(next, Parent{Addr: cur.Addr, Name: l.peer.Name})
	}
	for _, x := range in {
		if x.Addr == "" || x.Name == "" || x.Name == n.cfg.Name || x.Name == l.peer.Name || !kernel.ValidName(string(x.Name)) {
			continue
		}
		if slices.ContainsFunc(next, func(p Parent) bool { return p.Name == x.Name || p.Addr == x.Addr }) {
			continue
		}
		next = append(next, Parent{Addr: x.Addr, Name: x.Name})
	}
	if slices.Equal(next, n.learned) {
		return nil, false
	}
	n.learned = next
	n.probeTargetsChangedLocked()
	return slices.Clone(next), true
}

// alternatesFor is child's copy of alts: the siblings (all but a
// trailing parent entry) rotated by a hash of the child's name, so the
// children of a gateway that died spread over its siblings rather than
// all linking to the first.
func (n *Node) alternatesFor(child kernel.NodeName, alts []siblingAddr) []siblingAddr {
	k := len(n.siblings)
	if k < 2 || k > len(alts) {
		return alts
	}
	h := fnv.New32a()
	h.Write([]byte(child))
	r := int(h.Sum32() % uint32(k))
	out := make([]siblingAddr, 0, len(alts))
	out = append(out, alts[r:k]...)
	out = append(out, alts[:r]...)
	return append(out, alts[k:]...)
}

// alternatesForChildrenLocked is what this node's children may fail over
// to: its listening siblings (by name), then its parent. n.mu must be
// held.
func (n *Node) alternatesForChildrenLocked() []siblingAddr {
	out := make([]siblingAddr, 0, len(n.siblings)+1)
	names := make([]kernel.NodeName, 0, len(n.siblings))
	for name := range n.siblings {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	for _, name := range names {
		out = append(out, siblingAddr{Name: name, Addr: n.siblings[name]})
	}
	if n.parent != nil && n.linkedTo.Addr != "" {
		out = append(out, siblingAddr{Name: n.parent.peer.Name, Addr: n.linkedTo.Addr})
	}
	return out
}

// childAlternatesChangedLocked tells every child its alternates when they
// differ from what it was last told. n.mu must be held.
func (n *Node) childAlternatesChangedLocked() {
	if n.ln == nil {
		return
	}
	alts := n.alternatesForChildrenLocked()
	if slices.Equal(alts, n.toldAlts) {
		return
	}
	n.toldAlts = alts
	n.tellChildrenLocked(true)
}

// childUp tells a child that just linked its alternates; a listening
// child has been told with its siblings already, and one that asked for
// them in its hello ack got them there.
func (n *Node) childUp(name kernel.NodeName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.children[name]; l != nil && l.listen == "" && !l.toldInAck {
		l.enqueue(tSiblings, siblingsMsg{Peers: []siblingAddr{}, Alternates: n.alternatesFor(name, n.alternatesForChildrenLocked())})
	}
}
