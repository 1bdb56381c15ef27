package mesh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/backoff"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// parentLoop keeps this node linked to a parent: it dials the configured
// parents, then the learned alternates (alternates.go), in order, and
// fails over to the next one when a link is lost or a dial fails. After
// losing a link that worked it waits a random fraction of ReconnectMin
// first, so the children of a gateway that died do not all dial its
// alternate at once; it waits with backoff when every parent failed in a
// row, a link dropped before its first heartbeat was answered counting
// as a failure (so a parent that drops a child after its hello is not
// redialed in a tight loop).
func (n *Node) parentLoop() {
	bo := backoff.Backoff{Min: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax, Clock: n.cfg.Clock, Rand: n.cfg.Rand}
	var lost Parent
	var refusedSaid time.Time // when the last "every parent refuses" line was logged
	for n.ctx.Err() == nil {
		n.mu.Lock()
		cands := n.candidatesLocked(lost)
		n.mu.Unlock()
		worked := false
		refused := 0 // parents that refused this node's certificate, this round
		for _, p := range cands {
			if n.ctx.Err() != nil {
				return
			}
			l, err := n.dialParent(p)
			if err != nil {
				if errors.Is(err, link.ErrCertificateRefused) {
					refused++
					n.counter.CertificateRefusals.Add(1)
				}
				n.log.Warn("parent dial failed", "addr", p.Addr, "err", err)
				continue
			}
			reason, answered := n.runParent(l, p)
			n.emit(EventParentLost, l.peer.Name, reason)
			// A lost parent is tried last: fail over to the next one first.
			lost = p
			if answered {
				worked = true
				break
			}
		}
		if worked {
			bo.Reset()
			if !n.sleep(n.ctx, n.lossJitter()) {
				return
			}
			continue
		}
		n.setCutOff(refused > 0 && refused == len(cands))
		if now := n.cfg.Clock.Now(); refused > 0 && refused == len(cands) && now.Sub(refusedSaid) >= refusedEvery {
			refusedSaid = now
			n.log.Error("every parent refuses this node's certificate: it was revoked (the node deleted from the cluster), has expired, or is from another cluster; to bring the node back, create a join token (canopy token create) and start it once with --token",
				"parents", len(cands))
		}
		if bo.Wait(n.ctx) != nil {
			return
		}
	}
}

// refusedEvery is the least time between two log lines saying that every
// parent refuses this node's certificate (it keeps trying meanwhile).
const refusedEvery = 10 * time.Minute

// lossJitter is the wait before redialing after a lost link: uniform in
// [0, ReconnectMin). Only parentLoop calls it (cfg.Rand is its own).
func (n *Node) lossJitter() time.Duration {
	return time.Duration(n.cfg.Rand.Int64N(int64(n.cfg.ReconnectMin)))
}

func (n *Node) dialParent(p Parent) (*peerLink, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.DialTimeout)
	defer cancel()
	c, err := n.cfg.Network.Dial(ctx, p.Addr, p.Name)
	if err != nil {
		return nil, err
	}
	if peer := c.Peer(); peer.Role == kernel.RoleLeaf {
		// Whoever told this address, a leaf holds no subtree: under it
		// this node's traffic would be the leaf's to read or drop.
		c.Close()
		return nil, fmt.Errorf("%s at %s is a leaf, and a leaf is no one's parent", peer.Name, p.Addr)
	}
	l := n.newLink(c, true)
	n.mu.Lock()
	sub := n.claimOrderLocked(n.subtreeLocked())
	k := min(len(sub), maxRoutesPerMsg)
	h := hello{Version: ProtocolVersion, Routes: sub[:k], Interest: n.interestForLocked(l), Listen: n.advertiseAddr(),
		Proof: newRouteProof(n.cfg.Identity, l.peer.Name, n.cfg.Clock.Now()), Proofs: n.proofsForLocked(sub[:k]), SiblingsInAck: true}
	if l.lv != nil {
		h.Beat = beatMillis(n.cfg.AppHeartbeatInterval)
	}
	if h.Proof != nil {
		n.claims.upCert = h.Proof.Cert
	}
	if len(sub) > k { // the rest of a large subtree follows the hello
		n.enqueueRoutesLocked(l, sub[k:], nil)
	}
	n.pending = l
	n.linkedTo = p // for the alternates it sends (which name it when learned)
	n.mu.Unlock()
	ok := false
	defer func() {
		if !ok { // on success runParent takes the link over
			n.mu.Lock()
			n.pending = nil
			n.linkedTo = Parent{}
			n.mu.Unlock()
		}
	}()
	l.sent = strings.Join(h.Interest, "\x00")
	_, b, err := l.call(ctx, tHello, h)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	if v, err := peekVersion(b); err == nil && v != ProtocolVersion {
		c.Close()
		return nil, fmt.Errorf("parent %s speaks protocol version %d, this node %d: upgrade the older one", l.peer.Name, v, ProtocolVersion)
	}
	var ack helloAck
	err = frame.Unmarshal(b, &ack)
	if err == nil && ack.Version != ProtocolVersion { // peekVersion failed where the strict decode did not
		err = fmt.Errorf("parent %s speaks protocol version %d, this node %d", l.peer.Name, ack.Version, ProtocolVersion)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("hello ack: %w", err)
	}
	if l.lv != nil {
		takeParentBeat(l, ack)
	}
	l.interest = setOf(ack.Interest)
	if ack.Siblings != nil {
		n.takeSiblings(l, *ack.Siblings)
	}
	ok = true
	return l, nil
}

// runParent serves a parent link (dialed by p) and beats to it until the
// link is lost; it returns why, and whether the parent ever answered a
// heartbeat.
func (n *Node) runParent(l *peerLink, p Parent) (string, bool) {
	n.setCutOff(false)
	n.mu.Lock()
	n.parent = l
	n.linkedTo = p
	n.pending = nil
	close(n.parentUp)
	n.childAlternatesChangedLocked() // the new parent is one of them
	n.mu.Unlock()
	n.emit(EventParentUp, l.peer.Name, "")
	n.interestChanged()
	l.startControl()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.serveLink(l)
	}()
	reason, answered := n.heartbeat(l)
	l.conn.Close()
	n.mu.Lock()
	n.parent = nil
	n.linkedTo = Parent{}
	// The next parent sends its own list. The children keep the
	// alternates they were told until this node links again.
	n.setSiblingsLocked(nil)
	n.parentUp = make(chan struct{})
	n.mu.Unlock()
	n.interestChanged()
	return reason, answered
}

// heartbeat keeps the link to the parent l until it is lost, and returns
// why and whether the parent answered any heartbeat: by transport
// liveness when the link has it (watchParent), else by a heartbeat
// message every HeartbeatInterval.
func (n *Node) heartbeat(l *peerLink) (reason string, answered bool) {
	if l.lv != nil {
		return n.watchParent(l)
	}
	return n.beatParent(l)
}

// beatParent beats every HeartbeatInterval; a parent that has not answered
// for LostAfter is lost. Each beat's round trip is a latency probe.
func (n *Node) beatParent(l *peerLink) (reason string, answered bool) {
	lastOK := n.cfg.Clock.Now()
	for seq := uint64(1); ; seq++ {
		// The parent is lost LostAfter after the last answer, so this beat
		// may wait only for what is left of that time (real time: the
		// transport's deadlines are real).
		left := n.cfg.LostAfter - n.cfg.Clock.Now().Sub(lastOK)
		ctx, cancel := context.WithTimeout(n.ctx, max(left, n.cfg.HeartbeatInterval))
		start := time.Now()
		n.counter.HeartbeatsSent.Add(1)
		_, _, err := l.call(ctx, tHeartbeat, heartbeat{Seq: seq})
		cancel()
		now := n.cfg.Clock.Now()
		if err == nil {
			lastOK = now
			answered = true
			l.mu.Lock()
			l.probe = time.Since(start)
			l.mu.Unlock()
		} else if n.ctx.Err() == nil {
			n.counter.HeartbeatsMissed.Add(1)
		}
		if err != nil && now.Sub(lastOK) >= n.cfg.LostAfter {
			return fmt.Sprintf("no heartbeat answer for %v: %v", now.Sub(lastOK), err), answered
		}
		select {
		case <-l.conn.Done():
			return "link closed", answered
		case <-n.ctx.Done():
			return "node closed", answered
		default:
		}
		t := n.cfg.Clock.NewTimer(n.cfg.HeartbeatInterval)
		select {
		case <-t.C():
		case <-l.conn.Done():
			t.Stop()
			return "link closed", answered
		case <-n.ctx.Done():
			t.Stop()
			return "node closed", answered
		}
	}
}

// watchParent keeps a link with transport liveness: the parent is lost
// once nothing has arrived from it for LostAfter (checked every liveness
// tick) or it has answered no heartbeat message for three of the
// intervals it accepted in its ack. A heartbeat message goes at once (its
// answer makes this node ready at the parent and the link answered) and
// then every such interval, or every HeartbeatInterval while the link
// is slow (liveness.go), on its own goroutine, so a slow answer never
// delays the packet check.
func (n *Node) watchParent(l *peerLink) (reason string, answered bool) {
	ctx, cancel := context.WithCancel(n.ctx)
	defer cancel() // ends a beat in flight
	results := make(chan bool, 1)
	inFlight := false
	now := n.cfg.Clock.Now()
	lastOK, lastSent := now, time.Time{}
	for seq := uint64(1); ; {
		every := l.beat
		if n.slow(l) {
			every = n.cfg.HeartbeatInterval
		}
		if !inFlight && (lastSent.IsZero() || now.Sub(lastSent) >= every) {
			inFlight, lastSent = true, now
			n.counter.HeartbeatsSent.Add(1)
			n.wg.Add(1)
			go func(seq uint64) {
				defer n.wg.Done()
				bctx, cancel := context.WithTimeout(ctx, max(n.cfg.LostAfter, every))
				_, _, err := l.call(bctx, tHeartbeat, heartbeat{Seq: seq})
				cancel()
				results <- err == nil
			}(seq)
			seq++
		}
		t := n.cfg.Clock.NewTimer(n.livenessTick())
		select {
		case ok := <-results:
			inFlight = false
			if ok {
				lastOK, answered = n.cfg.Clock.Now(), true
			} else if n.ctx.Err() == nil {
				n.counter.HeartbeatsMissed.Add(1)
			}
		case <-t.C():
		case <-l.conn.Done():
			t.Stop()
			return "link closed", answered
		case <-n.ctx.Done():
			t.Stop()
			return "node closed", answered
		}
		t.Stop()
		now = n.cfg.Clock.Now()
		l.mu.Lock()
		heard := l.heardLocked(now)
		l.probe = l.conn.RTT()
		l.mu.Unlock()
		if d := now.Sub(heard); d >= n.silentFor() {
			return fmt.Sprintf("nothing received from the parent for %v", d.Round(time.Millisecond)), answered
		}
		if d := now.Sub(lastOK); d >= 3*l.beat {
			return fmt.Sprintf("no heartbeat answer for %v", d.Round(time.Millisecond)), answered
		}
	}
}
