package mesh

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// CodeConflict refuses a hello in the name of a child that is already
// linked here on a live link (one that beats) with another certificate: a
// second certificate in its name (an old one not yet expired, a copy
// issued by mistake) must not replace it. The same certificate replaces
// the old link: that is the device itself, back after a crash before its
// old link timed out here.
const CodeConflict = "conflict"

// CodeCutOff refuses a hello at a node whose own certificate every parent
// refuses (it was deleted from the cluster, or has expired): it reaches
// nothing above it, so the child links elsewhere.
const CodeCutOff = "cut-off"

// admitState counts the connections that have not said hello yet, per
// certificate name and in all, and keeps refusal logs to one line per peer
// per refusalLogEvery.
type admitState struct {
	mu      sync.Mutex
	pending map[kernel.NodeName]int
	total   int
	logs    map[kernel.NodeName]*refusalLog
	cutOff  bool // every parent refused this node's certificate in the last round (setCutOff)
}

// refusalLog is the refusals of one peer since its last log line.
type refusalLog struct {
	at      time.Time // when the last line was written
	count   int       // refusals since then, not yet logged
	why     string    // the latest reason
	flushed bool      // a line for count is scheduled
}

// refusalLogEvery is the least time between two refusal lines for one
// peer; the refusals in between are counted into the next line. Real
// time: it bounds the log, not a protocol decision.
const refusalLogEvery = 10 * time.Second

// maxRefusalLogs bounds the peers whose refusals are being counted.
const maxRefusalLogs = 4096

// acceptLoop accepts child connections. Each peer has MaxPendingPerPeer
// (per certificate name) and MaxPending (in all) room for connections
// before their hello: connections beyond either are closed at once, so a
// flood from one peer costs a handshake each and holds nothing.
func (n *Node) acceptLoop() {
	for {
		c, err := n.ln.Accept(n.ctx)
		if err != nil {
			return
		}
		name := c.Peer().Name
		if why := n.takePending(name); why != "" {
			c.Close()
			n.refused(name, why)
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer n.donePending(name)
			n.admitChild(c)
		}()
	}
}

// takePending counts a new connection from name before its hello, or
// says why it is refused.
func (n *Node) takePending(name kernel.NodeName) string {
	a := &n.admit
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		a.pending = map[kernel.NodeName]int{}
	}
	switch {
	case a.pending[name] >= n.cfg.MaxPendingPerPeer:
		return fmt.Sprintf("%d connections from this peer already waiting for their hello (MaxPendingPerPeer)", a.pending[name])
	case a.total >= n.cfg.MaxPending:
		return fmt.Sprintf("%d connections already waiting for their hello (MaxPending)", a.total)
	}
	a.pending[name]++
	a.total++
	n.counter.ConnsPending.Store(int64(a.total))
	if int64(a.total) > n.counter.ConnsPendingPeak.Load() {
		n.counter.ConnsPendingPeak.Store(int64(a.total))
	}
	return ""
}

// donePending uncounts a connection from name once its hello is done.
func (n *Node) donePending(name kernel.NodeName) {
	a := &n.admit
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending[name]--; a.pending[name] <= 0 {
		delete(a.pending, name)
	}
	a.total--
	n.counter.ConnsPending.Store(int64(a.total))
}

// refused counts a refused connection and logs it: the first refusal of
// a peer at once, the ones after it in one line per refusalLogEvery with
// their count.
func (n *Node) refused(name kernel.NodeName, why string) {
	n.counter.ConnsRefused.Add(1)
	now := time.Now()
	a := &n.admit
	a.mu.Lock()
	if a.logs == nil {
		a.logs = map[kernel.NodeName]*refusalLog{}
	}
	r := a.logs[name]
	if r == nil {
		if len(a.logs) >= maxRefusalLogs {
			for k, v := range a.logs {
				if !v.flushed && now.Sub(v.at) >= refusalLogEvery {
					delete(a.logs, k)
				}
			}
		}
		if len(a.logs) >= maxRefusalLogs { // every entry is busy: log without counting
			a.mu.Unlock()
			n.log.Warn("refused connection", "peer", string(name), "reason", why)
			return
		}
		r = &refusalLog{}
		a.logs[name] = r
	}
	r.count++
	r.why = why
	if !r.at.IsZero() && now.Sub(r.at) < refusalLogEvery {
		if !r.flushed { // log this interval's count when it ends
			r.flushed = true
			time.AfterFunc(refusalLogEvery-now.Sub(r.at), func() { n.flushRefusals(name) })
		}
		a.mu.Unlock()
		return
	}
	count := r.count
	r.at, r.count = now, 0
	a.mu.Unlock()
	n.log.Warn("refused connection", "peer", string(name), "reason", why, "refused", count)
}

// flushRefusals logs the refusals of name counted since its last line.
func (n *Node) flushRefusals(name kernel.NodeName) {
	a := &n.admit
	a.mu.Lock()
	r := a.logs[name]
	if r == nil {
		a.mu.Unlock()
		return
	}
	r.flushed = false
	if r.count == 0 {
		a.mu.Unlock()
		return
	}
	count, why := r.count, r.why
	r.at, r.count = time.Now(), 0
	a.mu.Unlock()
	n.log.Warn("refused connections", "peer", string(name), "reason", why, "refused", count, "in", refusalLogEvery)
}

// refuseChild ends a connection that did not become a child link. When
// an error reply was sent on s, the peer gets a moment to read it.
func (n *Node) refuseChild(c link.Conn, s link.Stream, err error) {
	select {
	case <-c.Done(): // closed before any hello: a probe
		n.log.Debug("connection closed before hello", "peer", string(c.Peer().Name))
		return
	default:
	}
	n.refused(c.Peer().Name, err.Error())
	if s != nil {
		t := time.NewTimer(min(time.Second, n.cfg.HelloTimeout))
		select {
		case <-c.Done():
		case <-t.C:
		case <-n.ctx.Done():
		}
		t.Stop()
	}
	c.Close()
}

// liveLocked reports whether child link l is open and beating: it beat
// within the last two heartbeat intervals or, with transport liveness, a
// packet arrived within two keep-alives (and a tick). n.mu is held.
func (n *Node) liveLocked(l *peerLink, now time.Time) bool {
	select {
	case <-l.conn.Done():
		return false
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	window := 2 * n.cfg.HeartbeatInterval
	if l.lv != nil {
		window = max(window, 2*(l.lv.KeepAlive()+l.conn.RTT())+n.livenessTick())
	}
	return now.Sub(l.heardLocked(now)) < window
}

// admitChild runs the hello exchange on a new connection and then serves
// the child until its link ends. The hello must arrive within
// HelloTimeout. A hello in the name of a child linked here on a live link
// is refused: only a link that is closed or has stopped beating is
// replaced by a new one (the child reconnecting), so a stolen copy of a
// certificate cannot churn the real child's link.
func (n *Node) admitChild(c link.Conn) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HelloTimeout)
	h, s, err := n.readHello(ctx, c)
	cancel()
	if err == nil && n.isCutOff() {
		err = errors.New("every parent refuses this node's certificate: link to another parent")
		replyError(s, CodeCutOff, "%v", err)
	}
	if err != nil {
		n.refuseChild(c, s, err)
		return
	}
	l := n.newLink(c, false)
	name := l.peer.Name
	now := n.cfg.Clock.Now()
	l.lastBeat = now
	beat := n.acceptBeat(c, h)
	n.takeChildLiveness(l, beat, now)
	if l.peer.Role != kernel.RoleLeaf {
		// A leaf is no one's parent: its address, were it told down the
		// tree as a sibling and alternate, would draw other nodes' links.
		l.listen = h.Listen
	}
	l.interest = setOf(h.Interest)
	v := n.claimVerifier()
	own := h.Proof
	if own != nil && v != nil {
		err := checkProof(v, name, own)
		if err == nil && own.Parent != n.cfg.Name {
			err = fmt.Errorf("route proof for %s places it under %s, not here", name, own.Parent)
		}
		if err != nil {
			n.log.Warn("child's route proof refused", "peer", string(name), "err", err)
			own = nil
		}
	}
	var claims []claim
	if l.peer.Role == kernel.RoleGateway || l.peer.Role == kernel.RoleController {
		claims = verifyClaims(v, h.Routes, h.Proofs) // without n.mu: certificate checks
	} else {
		claims = verifyClaims(nil, h.Routes, nil) // a leaf's are refused unchecked, as in onRoutes
	}
	added := []kernel.NodeName{name}
	n.mu.Lock()
	if n.isCutOff() {
		// Cut off while the hello was checked: setCutOff takes n.mu after
		// setting the flag, so a child added before it looks is dropped
		// by it, and one after it is refused here.
		n.mu.Unlock()
		err := errors.New("every parent refuses this node's certificate: link to another parent")
		replyError(s, CodeCutOff, "%v", err)
		n.refuseChild(c, s, err)
		return
	}
	old := n.children[name]
	if old != nil && n.liveLocked(old, now) && old.peer.Serial != l.peer.Serial {
		n.mu.Unlock()
		err := fmt.Errorf("%s is already linked here on a live link", name)
		replyError(s, CodeConflict, "%v", err)
		n.refuseChild(c, s, err)
		return
	}
	n.children[name] = l
	var gone []kernel.NodeName // routed through the old link, and not claimed now
	if old != nil {
		for r, via := range n.routes {
			if via == old {
				n.forgetRouteLocked(r)
				gone = append(gone, r)
			}
		}
	}
	n.routes[name] = l // its certificate's name: a direct link wins over any claim
	if n.claims.proofs == nil {
		n.claims.proofs = map[kernel.NodeName]*routeProof{}
	}
	if own != nil {
		n.claims.proofs[name] = own
	} else {
		delete(n.claims.proofs, name)
	}
	taken, refused := n.installClaimsLocked(l, v, claims, now)
	added = append(added, taken...)
	if old != nil {
		n.dropStandbyLocked(old, nil)
	}
	gone = slices.DeleteFunc(gone, func(r kernel.NodeName) bool { return n.routes[r] != nil })
	back, gone := n.promoteLocked(gone, now)
	added = append(added, back...)
	ack := helloAck{Version: ProtocolVersion, Interest: n.interestForLocked(l), Beat: beatMillis(beat)}
	if h.SiblingsInAck && l.listen == "" {
		// What childUp would send; a listening child is told with its
		// siblings (siblingsChanged below).
		ack.Siblings = &siblingsMsg{Peers: []siblingAddr{}, Alternates: n.alternatesFor(name, n.alternatesForChildrenLocked())}
		l.toldInAck = true
	}
	l.sent = strings.Join(ack.Interest, "\x00")
	n.mu.Unlock()
	if old != nil {
		old.conn.Close() // a reconnect replaces the old link
	}
	n.claimsRefused(l, refused) // counted before the ack, as onRoutes does before its reply
	if err := frame.WriteMsg(s, tHelloAck, ack); err != nil {
		n.dropChild(l, "hello ack: "+err.Error())
		return
	}
	s.CloseWrite()
	n.sendRoutesUp(added, gone)
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

// readHello reads the hello on the first stream c opens. On an error the
// stream is returned when an error reply was sent on it.
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
		return h, s, fmt.Errorf("hello: %w", err)
	}
	if t != tHello {
		replyError(s, CodeBadRequest, "want hello first, got message type %d", t)
		return h, s, fmt.Errorf("first frame is type %d, not hello", t)
	}
	if v, err := peekVersion(p); err == nil && v != ProtocolVersion {
		replyError(s, CodeVersion, "protocol version %d not supported, want %d", v, ProtocolVersion)
		return h, s, fmt.Errorf("protocol version %d not supported, want %d", v, ProtocolVersion)
	}
	if err := frame.Unmarshal(p, &h); err != nil {
		replyError(s, CodeBadRequest, "hello: %v", err)
		return h, s, fmt.Errorf("hello: %w", err)
	}
	if h.Version != ProtocolVersion { // peekVersion failed where the strict decode did not
		replyError(s, CodeVersion, "protocol version %d not supported, want %d", h.Version, ProtocolVersion)
		return h, s, fmt.Errorf("protocol version %d not supported, want %d", h.Version, ProtocolVersion)
	}
	if c.Peer().Role == kernel.RoleController && !n.IsRoot() {
		// Controllers are roots; one linking below a gateway is a misconfiguration.
		n.log.Warn("controller linked as a child", "peer", string(c.Peer().Name))
	}
	return h, s, nil
}

// setCutOff records whether every parent refused this node's certificate
// in the last round of dials. Becoming cut off drops every child: a
// deleted gateway would otherwise keep its subtree, answering its
// heartbeats, with nothing above it.
func (n *Node) setCutOff(cut bool) {
	a := &n.admit
	a.mu.Lock()
	was := a.cutOff
	a.cutOff = cut
	a.mu.Unlock()
	if !cut || was {
		return
	}
	n.mu.Lock()
	children := make([]*peerLink, 0, len(n.children))
	for _, l := range n.children {
		children = append(children, l)
	}
	n.mu.Unlock()
	for _, l := range children {
		n.dropChild(l, "every parent refuses this node's certificate")
	}
}

func (n *Node) isCutOff() bool {
	a := &n.admit
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cutOff
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
			n.forgetRouteLocked(r)
			gone = append(gone, r)
		}
	}
	n.dropStandbyLocked(l, nil)
	back, gone := n.promoteLocked(gone, n.cfg.Clock.Now())
	n.mu.Unlock()
	l.conn.Close()
	n.sendRoutesUp(back, gone)
	n.interestChanged()
	if l.listen != "" {
		n.siblingsChanged()
	}
	n.emit(EventChildLost, l.peer.Name, reason)
}

// monitorChildren declares children lost when their heartbeats stop: a
// child is lost once LostAfter has passed since its last heartbeat (or its
// hello) or, on a link with transport liveness, since its last packet
// (liveness.go). Without liveness links it sleeps until the earliest
// deadline, so a silent child is noticed at its deadline rather than up
// to a check interval after it, and an idle gateway wakes about once per
// LostAfter less a heartbeat interval; a child linked while it sleeps has
// its deadline at least LostAfter away, and no sleep is longer than that.
// With liveness links it checks every liveness tick, on a copy of the
// children taken under n.mu (reused, so a tick makes no garbage), not
// holding n.mu over the checks.
func (n *Node) monitorChildren() {
	wait := n.cfg.LostAfter
	var links []*peerLink
	for n.sleep(n.ctx, wait) {
		now := n.cfg.Clock.Now()
		next := now.Add(n.cfg.LostAfter)
		var lost []*peerLink
		var why []string
		n.mu.Lock()
		links = links[:0]
		for _, l := range n.children {
			links = append(links, l)
		}
		n.mu.Unlock()
		for _, l := range links {
			l.mu.Lock()
			reason := n.childLostLocked(l, now)
			due := l.lastBeat.Add(n.cfg.LostAfter)
			if l.lv != nil {
				due = now.Add(n.livenessTick())
			}
			l.mu.Unlock()
			if reason != "" {
				lost, why = append(lost, l), append(why, reason)
			} else if due.Before(next) {
				next = due
			}
		}
		clear(links) // no link kept alive by the copy until the next tick
		n.counter.HeartbeatTimeouts.Add(int64(len(lost)))
		for i, l := range lost {
			n.dropChild(l, why[i])
		}
		wait = next.Sub(now)
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
		n.enqueueRoutesLocked(p, add, del)
	}
}

// enqueueRoutesLocked queues route changes on link p with the proofs held
// for the added nodes, at most maxRoutesPerMsg claims and maxDelsPerMsg
// deletions a message. n.mu is held.
func (n *Node) enqueueRoutesLocked(p *peerLink, add, del []kernel.NodeName) {
	for first := true; first || len(add) > 0 || len(del) > 0; first = false {
		k, d := min(len(add), maxRoutesPerMsg), min(len(del), maxDelsPerMsg)
		m := routes{Add: add[:k], Proofs: n.proofsForLocked(add[:k])}
		if d > 0 {
			m.Del = del[:d]
		}
		p.enqueue(tRoutes, m)
		add, del = add[k:], del[d:]
	}
}

// maxDelsPerMsg bounds the deletions in one routes message: a gateway lost
// with a large subtree below it is told up in several messages, each
// under MaxFrame (8192 names of at most 63 bytes: about 520 KiB).
const maxDelsPerMsg = 8192

// claimsRefused logs and counts the route claims of l that were refused.
func (n *Node) claimsRefused(l *peerLink, refused []string) {
	if len(refused) == 0 {
		return
	}
	n.counter.RouteClaimsRefused.Add(int64(len(refused)))
	n.log.Warn("routes refused", "peer", string(l.peer.Name), "role", string(l.peer.Role), "refused", len(refused), "claims", refused)
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
	v := n.claimVerifier()
	var claims []claim
	if l.peer.Role == kernel.RoleGateway || l.peer.Role == kernel.RoleController {
		claims = verifyClaims(v, r.Add, r.Proofs) // a leaf's are refused unchecked
	} else {
		claims = verifyClaims(nil, r.Add, nil)
	}
	now := n.cfg.Clock.Now()
	n.mu.Lock()
	if n.children[l.peer.Name] != l {
		n.mu.Unlock()
		replyOK(s)
		return
	}
	add, refused := n.installClaimsLocked(l, v, claims, now)
	var del []kernel.NodeName
	for _, x := range r.Del {
		if n.routes[x] == l {
			n.forgetRouteLocked(x)
			del = append(del, x)
		}
	}
	n.dropStandbyLocked(l, r.Del)
	back, del := n.promoteLocked(del, now)
	add = append(add, back...)
	n.mu.Unlock()
	n.claimsRefused(l, refused)
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
