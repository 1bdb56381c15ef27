package mesh

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

func (n *Node) acceptLoop() {
	for {
		c, err := n.ln.Accept(n.ctx)
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.admitChild(c)
		}()
	}
}

// admitChild runs the hello exchange on a new connection and then serves
// the child until its link ends.
func (n *Node) admitChild(c link.Conn) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
	h, s, err := n.readHello(ctx, c)
	cancel()
	if err != nil {
		select {
		case <-c.Done(): // closed before any hello: a probe
			n.log.Debug("connection closed before hello", "peer", string(c.Peer().Name))
			return
		default:
		}
		n.log.Warn("refused child", "peer", string(c.Peer().Name), "err", err)
		// Give the peer a moment to read the error reply before closing.
		t := time.NewTimer(time.Second)
		select {
		case <-c.Done():
		case <-t.C:
		case <-n.ctx.Done():
		}
		t.Stop()
		c.Close()
		return
	}
	l := n.newLink(c, false)
	name := l.peer.Name
	l.lastBeat = n.cfg.Clock.Now()
	l.listen = h.Listen
	l.interest = setOf(h.Interest)
	added := []kernel.NodeName{name}
	n.mu.Lock()
	old := n.children[name]
	n.children[name] = l
	if old != nil {
		for r, via := range n.routes {
			if via == old {
				delete(n.routes, r)
			}
		}
	}
	n.routes[name] = l // its certificate's name: a direct link wins over any claim
	var refused []kernel.NodeName
	for _, r := range h.Routes {
		if n.mayRouteLocked(l, r) {
			n.routes[r] = l
			added = append(added, r)
		} else {
			refused = append(refused, r)
		}
	}
	ack := helloAck{Version: ProtocolVersion, Interest: n.interestForLocked(l)}
	l.sent = strings.Join(ack.Interest, "\x00")
	n.mu.Unlock()
	if old != nil {
		old.conn.Close() // a reconnect replaces the old link
	}
	if err := frame.WriteMsg(s, tHelloAck, ack); err != nil {
		n.dropChild(l, "hello ack: "+err.Error())
		return
	}
	s.CloseWrite()
	if len(refused) > 0 {
		n.log.Warn("routes refused", "peer", string(name), "role", string(l.peer.Role), "names", refused)
	}
	n.sendRoutesUp(added, nil)
	n.interestChanged()
	if l.listen != "" || (old != nil && old.listen != "") {
		n.siblingsChanged()
	}
	n.emit(EventChildUp, name, "")
	l.startControl()
	// Serve on a fresh goroutine: this one's stack grew during the hello,
	// and an idle link should keep only a small one.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.serveLink(l)
		n.dropChild(l, "link closed")
	}()
}

func (n *Node) readHello(ctx context.Context, c link.Conn) (hello, link.Stream, error) {
	var h hello
	s, err := c.AcceptStream(ctx)
	if err != nil {
		return h, nil, fmt.Errorf("no hello: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	t, p, err := frame.Read(s, n.cfg.MaxFrame)
	if err == nil {
		err = expectEOF(s)
	}
	if err != nil {
		replyError(s, CodeBadRequest, "hello: %v", err)
		return h, nil, fmt.Errorf("hello: %w", err)
	}
	if t != tHello {
		replyError(s, CodeBadRequest, "want hello first, got message type %d", t)
		return h, nil, fmt.Errorf("first frame is type %d, not hello", t)
	}
	if err := frame.Unmarshal(p, &h); err != nil {
		replyError(s, CodeBadRequest, "hello: %v", err)
		return h, nil, fmt.Errorf("hello: %w", err)
	}
	if h.Version != ProtocolVersion {
		replyError(s, CodeVersion, "protocol version %d not supported, want %d", h.Version, ProtocolVersion)
		return h, nil, fmt.Errorf("protocol version %d not supported, want %d", h.Version, ProtocolVersion)
	}
	if c.Peer().Role == kernel.RoleController && !n.IsRoot() {
		// Controllers are roots; one linking below a gateway is a misconfiguration.
		n.log.Warn("controller linked as a child", "peer", string(c.Peer().Name))
	}
	return h, s, nil
}

// dropChild forgets a child link and the routes through it.
func (n *Node) dropChild(l *peerLink, reason string) {
	n.mu.Lock()
	if n.children[l.peer.Name] != l {
		n.mu.Unlock()
		l.conn.Close()
		return
	}
	delete(n.children, l.peer.Name)
	var gone []kernel.NodeName
	for r, via := range n.routes {
		if via == l {
			delete(n.routes, r)
			gone = append(gone, r)
		}
	}
	n.mu.Unlock()
	l.conn.Close()
	n.sendRoutesUp(nil, gone)
	n.interestChanged()
	if l.listen != "" {
		n.siblingsChanged()
	}
	n.emit(EventChildLost, l.peer.Name, reason)
}

// monitorChildren declares children lost when their heartbeats stop.
func (n *Node) monitorChildren() {
	for n.sleep(n.ctx, n.cfg.HeartbeatInterval) {
		now := n.cfg.Clock.Now()
		var lost []*peerLink
		n.mu.Lock()
		for _, l := range n.children {
			l.mu.Lock()
			if now.Sub(l.lastBeat) > n.cfg.LostAfter {
				lost = append(lost, l)
			}
			l.mu.Unlock()
		}
		n.mu.Unlock()
		n.counter.HeartbeatTimeouts.Add(int64(len(lost)))
		for _, l := range lost {
			n.dropChild(l, fmt.Sprintf("no heartbeat for more than %v", n.cfg.LostAfter))
		}
	}
}

// sendRoutesUp tells the parent about nodes added to or gone from this
// node's subtree.
func (n *Node) sendRoutesUp(add, del []kernel.NodeName) {
	if len(add) == 0 && len(del) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.parent
	if p == nil {
		p = n.pending // changes after the hello's snapshot, sent after it
	}
	if p != nil {
		p.enqueue(tRoutes, routes{Add: add, Del: del})
	}
}

func (n *Node) onRoutes(l *peerLink, p []byte, s link.Stream) {
	if l.isParent {
		replyError(s, CodeBadRequest, "routes go from child to parent")
		return
	}
	var r routes
	if !n.decode(l, s, p, &r) {
		return
	}
	n.mu.Lock()
	if n.children[l.peer.Name] != l {
		n.mu.Unlock()
		replyOK(s)
		return
	}
	var add, del, refused []kernel.NodeName
	for _, x := range r.Add {
		if n.mayRouteLocked(l, x) {
			n.routes[x] = l
			add = append(add, x)
		} else {
			refused = append(refused, x)
		}
	}
	for _, x := range r.Del {
		if n.routes[x] == l {
			delete(n.routes, x)
			del = append(del, x)
		}
	}
	n.mu.Unlock()
	if len(refused) > 0 {
		n.log.Warn("routes refused", "peer", string(l.peer.Name), "role", string(l.peer.Role), "names", refused)
	}
	replyOK(s)
	n.sendRoutesUp(add, del)
}

// mayRouteLocked reports whether child link l may claim a route to x, a
// node below it. Only gateways (and controllers) have subtrees: a leaf's
// claims are refused, so a leaf cannot draw another node's traffic or
// send in its name. No child may claim this node, its parents, or a node
// that is itself linked here as a child through another link (its
// certificate names it; a claim does not). A gateway's claim may replace
// another gateway's, so a node that moved between gateways is found
// before the old gateway notices it gone.
func (n *Node) mayRouteLocked(l *peerLink, x kernel.NodeName) bool {
	if l.peer.Role != kernel.RoleGateway && l.peer.Role != kernel.RoleController {
		return false
	}
	if x == n.cfg.Name || !kernel.ValidName(string(x)) {
		return false
	}
	for _, p := range n.cfg.Parents {
		if p.Name == x {
			return false
		}
	}
	if n.parent != nil && n.parent.peer.Name == x {
		return false
	}
	if c := n.children[x]; c != nil && c != l {
		return false
	}
	return true
}

// subtreeLocked lists every node below this one.
func (n *Node) subtreeLocked() []kernel.NodeName {
	out := make([]kernel.NodeName, 0, len(n.routes))
	for r := range n.routes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
