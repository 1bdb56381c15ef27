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
// Only listening children are told, so a gateway with 1,000 leaves and a
// few child gateways sends a short list to a few children.

// siblingsMsg is parent→child: the child's listening siblings.
type siblingsMsg struct {
	Peers []siblingAddr
}

type siblingAddr struct {
	_    struct{} `cbor:",toarray"`
	Name kernel.NodeName
	Addr string
}

// advertiseAddr is the listen address this node gives its parent for its
// siblings to dial: "" when it does not listen or listens on an
// unspecified host (0.0.0.0, ::), which a sibling cannot dial.
func (n *Node) advertiseAddr() string { return advertisable(n.Addr()) }

func advertisable(a string) string {
	if host, _, err := net.SplitHostPort(a); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return ""
		}
	}
	return a
}

// siblingsChanged sends every listening child the list of the others.
func (n *Node) siblingsChanged() {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ls []*peerLink
	for _, l := range n.children {
		if l.listen != "" {
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].peer.Name < ls[j].peer.Name })
	for _, l := range ls {
		m := siblingsMsg{Peers: make([]siblingAddr, 0, len(ls)-1)}
		for _, o := range ls {
			if o != l {
				m.Peers = append(m.Peers, siblingAddr{Name: o.peer.Name, Addr: o.listen})
			}
		}
		l.enqueue(tSiblings, m)
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
	next := make(map[kernel.NodeName]string, len(m.Peers))
	for _, x := range m.Peers {
		if x.Name != n.cfg.Name && x.Addr != "" {
			next[x.Name] = x.Addr
		}
	}
	n.mu.Lock()
	if n.parent == l || n.pending == l {
		n.setSiblingsLocked(next)
	}
	n.mu.Unlock()
	replyOK(s)
}

// setSiblingsLocked replaces the sibling list and forgets the probes of
// nodes that are no longer siblings (unless they are alternates); n.mu
// must be held.
func (n *Node) setSiblingsLocked(next map[kernel.NodeName]string) {
	for name := range n.siblings {
		if _, ok := next[name]; !ok && !n.isAlternate(name) {
			delete(n.probes, name)
		}
	}
	n.siblings = next
}

func (n *Node) isAlternate(name kernel.NodeName) bool {
	for _, p := range n.cfg.Parents {
		if p.Name == name {
			return true
		}
	}
	return false
}

// probeTargets lists what probeLoop measures: the alternate parents, then
// the siblings that are not also alternates.
func (n *Node) probeTargets() []Parent {
	out := append([]Parent(nil), n.cfg.Parents...)
	n.mu.Lock()
	defer n.mu.Unlock()
	names := make([]kernel.NodeName, 0, len(n.siblings))
	for name := range n.siblings {
		if !n.isAlternate(name) {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	for _, name := range names {
		out = append(out, Parent{Addr: n.siblings[name], Name: name})
	}
	return out
}
