package mesh

import (
	"net"
	"sort"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Sibling probes. A node that listens (a gateway) says so in its hello,
// with the address it listens on; its parent tells each listening child
// the names and addresses of its listening siblings, again whenever that
// set changes. Listening children then probe their siblings like their
// alternate parents (a connection opened and closed without a hello) and
// report the round trips up with their links' measurements.
//
// Leaves do not listen, so nothing can dial them and they probe no
// siblings: a path between two leaves under one gateway is their two
// links, which the root's graph already has. Leaves still probe their
// alternate parents, which are usually their parent's listening siblings.
// Only listening children are told their siblings, so a gateway with
// 1,000 leaves and a few child gateways sends a short list to a few
// children. The same message carries every child's alternates
// (alternates.go), which leaves are told too.

// siblingsMsg is parent→child: the child's listening siblings (only to
// a listening child) and the alternate parents the child may fail over
// to. Alternates is new in the message: a peer that does not know it
// refuses the message as malformed (strict decoding), it does not
// misread it.
type siblingsMsg struct {
	Peers      []siblingAddr
	Alternates []siblingAddr `cbor:",omitempty"`
}

type siblingAddr struct {
	_    struct{} `cbor:",toarray"`
	Name kernel.NodeName
	Addr string
}

// advertiseAddr is the listen address this node gives its parent for its
// siblings (and its children's failover) to dial: Config.Advertise, with
// the bound port when it names a host only; else the bound address,
// "" when it does not listen or listens on an unspecified host (0.0.0.0,
// ::), which a sibling cannot dial.
func (n *Node) advertiseAddr() string {
	bound := n.Addr()
	if bound == "" {
		return ""
	}
	if a := n.cfg.Advertise; a != "" {
		if _, _, err := net.SplitHostPort(a); err == nil {
			return a
		}
		if _, port, err := net.SplitHostPort(bound); err == nil {
			return net.JoinHostPort(a, port)
		}
		return a
	}
	return advertisable(bound)
}

// Advertised is the address this node tells its parent its children and
// siblings can dial ("" when none: it does not listen, or listens on an
// unspecified host without Config.Advertise).
func (n *Node) Advertised() string { return n.advertiseAddr() }

func advertisable(a string) string {
	if host, _, err := net.SplitHostPort(a); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return ""
		}
	}
	return a
}

// siblingsChanged sends every listening child the list of the others (and
// its alternates).
func (n *Node) siblingsChanged() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tellChildrenLocked(false)
}

// tellChildrenLocked sends children their siblings and alternates: every
// child when all is set (the alternates changed), else the listening
// ones (their siblings changed). n.mu must be held.
func (n *Node) tellChildrenLocked(all bool) {
	var ls []*peerLink
	for _, l := range n.children {
		if l.listen != "" {
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].peer.Name < ls[j].peer.Name })
	alts := n.alternatesForChildrenLocked()
	for _, l := range ls {
		m := siblingsMsg{Peers: make([]siblingAddr, 0, len(ls)-1), Alternates: n.alternatesFor(l.peer.Name, alts)}
		for _, o := range ls {
			if o != l {
				m.Peers = append(m.Peers, siblingAddr{Name: o.peer.Name, Addr: o.listen})
			}
		}
		l.enqueue(tSiblings, m)
	}
	if !all {
		return
	}
	for _, l := range n.children {
		if l.listen == "" {
			l.enqueue(tSiblings, siblingsMsg{Peers: []siblingAddr{}, Alternates: n.alternatesFor(l.peer.Name, alts)})
		}
	}
}

func (n *Node) onSiblings(l *peerLink, p []byte, s link.Stream) {
	if !l.isParent {
		replyError(s, CodeBadRequest, "siblings go from parent to child")
		return
	}
	var m siblingsMsg
	if !n.decode(l, s, p, &m) {
		return
	}
	n.takeSiblings(l, m)
	replyOK(s)
}

// takeSiblings takes the siblings and alternates parent link l told (in
// a siblings message or its hello ack).
func (n *Node) takeSiblings(l *peerLink, m siblingsMsg) {
	next := make(map[kernel.NodeName]string, len(m.Peers))
	for _, x := range m.Peers {
		if x.Name != n.cfg.Name && x.Addr != "" {
			next[x.Name] = x.Addr
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.parent == l || n.pending == l {
		n.setSiblingsLocked(next)
		if alts, ok := n.setLearnedLocked(l, m.Alternates); ok && n.cfg.OnAlternates != nil {
			// Handed over by alternatesLoop: the caller may be the
			// parent loop before its first heartbeat, and OnAlternates
			// may write a file. Set under n.mu, so the newest list wins.
			n.altsOut = &alts
			select {
			case n.altsSoon <- struct{}{}:
			default:
			}
		}
		// This node's children's alternates include its siblings.
		n.childAlternatesChangedLocked()
	}
}

// alternatesLoop hands OnAlternates each new list of alternates, one call
// at a time, the newest list when several came meanwhile; a list that came
// before the node closed is handed over before the loop ends.
func (n *Node) alternatesLoop() {
	for {
		select {
		case <-n.altsSoon:
		case <-n.ctx.Done():
			n.handAlternates()
			return
		}
		n.handAlternates()
	}
}

func (n *Node) handAlternates() {
	n.mu.Lock()
	alts := n.altsOut
	n.altsOut = nil
	n.mu.Unlock()
	if alts != nil {
		n.cfg.OnAlternates(*alts)
	}
}

// setSiblingsLocked replaces the sibling list and forgets the probes of
// nodes that are no longer siblings (unless they are alternates); n.mu
// must be held.
func (n *Node) setSiblingsLocked(next map[kernel.NodeName]string) {
	n.siblings = next
	n.probeTargetsChangedLocked()
}

// probeTargetsChangedLocked forgets the round trips of nodes no longer
// probed and has the new targets probed soon, not a ProbeInterval later
// (the controller places work by these figures); n.mu must be held.
func (n *Node) probeTargetsChangedLocked() {
	n.forgetProbesLocked()
	select {
	case n.probeSoon <- struct{}{}:
	default:
	}
}

// forgetProbesLocked drops the round trips of nodes that are no longer
// probe targets; n.mu must be held.
func (n *Node) forgetProbesLocked() {
	for name := range n.probes {
		if _, ok := n.siblings[name]; !ok && !n.isAlternateLocked(name) {
			delete(n.probes, name)
		}
	}
}

// isAlternateLocked reports whether name is a configured or learned
// parent; n.mu must be held.
func (n *Node) isAlternateLocked(name kernel.NodeName) bool {
	for _, p := range n.candidatesLocked(Parent{}) {
		if p.Name == name {
			return true
		}
	}
	return false
}

// probeTargets lists what probeLoop measures: the configured and learned
// parents, then the siblings that are not also among them.
func (n *Node) probeTargets() []Parent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.probeTargetsLocked()
}

func (n *Node) probeTargetsLocked() []Parent {
	out := n.candidatesLocked(Parent{})
	names := make([]kernel.NodeName, 0, len(n.siblings))
	for name := range n.siblings {
		if !n.isAlternateLocked(name) {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	for _, name := range names {
		out = append(out, Parent{Addr: n.siblings[name], Name: name})
	}
	return out
}
