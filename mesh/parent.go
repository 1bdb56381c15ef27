package mesh

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/mesh/backoff"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// parentLoop keeps this node linked to a parent: it dials the parents in
// order, fails over to the next one when a link is lost or a dial fails,
// and waits with backoff and jitter when every parent failed in a row.
func (n *Node) parentLoop() {
	bo := backoff.Backoff{Min: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax, Clock: n.cfg.Clock, Rand: n.cfg.Rand}
	next := 0
	for n.ctx.Err() == nil {
		linked := false
		for i := 0; i < len(n.cfg.Parents) && n.ctx.Err() == nil; i++ {
			idx := (next + i) % len(n.cfg.Parents)
			l, err := n.dialParent(idx)
			if err != nil {
				n.log.Warn("parent dial failed", "addr", n.cfg.Parents[idx].Addr, "err", err)
				continue
			}
			bo.Reset()
			linked = true
			reason := n.runParent(l)
			n.emit(EventParentLost, l.peer.Name, reason)
			// A lost parent is tried last: fail over to the next one first.
			next = idx + 1
			break
		}
		if !linked && bo.Wait(n.ctx) != nil {
			return
		}
	}
}

func (n *Node) dialParent(idx int) (*peerLink, error) {
	p := n.cfg.Parents[idx]
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.DialTimeout)
	defer cancel()
	c, err := n.cfg.Network.Dial(ctx, p.Addr, p.Name)
	if err != nil {
		return nil, err
	}
	l := n.newLink(c, true)
	n.mu.Lock()
	h := hello{Version: ProtocolVersion, Routes: n.subtreeLocked(), Interest: n.interestForLocked(l), Listen: n.advertiseAddr()}
	n.pending = l
	n.mu.Unlock()
	ok := false
	defer func() {
		if !ok { // on success runParent takes the link over
			n.mu.Lock()
			n.pending = nil
			n.mu.Unlock()
		}
	}()
	l.sent = strings.Join(h.Interest, "\x00")
	_, b, err := l.call(ctx, tHello, h)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	var ack helloAck
	if err := frame.Unmarshal(b, &ack); err != nil {
		c.Close()
		return nil, fmt.Errorf("hello ack: %w", err)
	}
	l.interest = setOf(ack.Interest)
	ok = true
	return l, nil
}

// runParent serves a parent link and beats to it until the link is lost;
// it returns why.
func (n *Node) runParent(l *peerLink) string {
	n.mu.Lock()
	n.parent = l
	n.pending = nil
	close(n.parentUp)
	n.mu.Unlock()
	n.emit(EventParentUp, l.peer.Name, "")
	n.interestChanged()
	l.startControl()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.serveLink(l)
	}()
	reason := n.heartbeat(l)
	l.conn.Close()
	n.mu.Lock()
	n.parent = nil
	n.setSiblingsLocked(nil) // the next parent sends its own list
	n.parentUp = make(chan struct{})
	n.mu.Unlock()
	n.interestChanged()
	return reason
}

// heartbeat beats every HeartbeatInterval; a parent that has not answered
// for LostAfter is lost. Each beat's round trip is a latency probe.
func (n *Node) heartbeat(l *peerLink) string {
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
			l.mu.Lock()
			l.probe = time.Since(start)
			l.mu.Unlock()
		} else if n.ctx.Err() == nil {
			n.counter.HeartbeatsMissed.Add(1)
		}
		if err != nil && now.Sub(lastOK) >= n.cfg.LostAfter {
			return fmt.Sprintf("no heartbeat answer for %v: %v", now.Sub(lastOK), err)
		}
		select {
		case <-l.conn.Done():
			return "link closed"
		case <-n.ctx.Done():
			return "node closed"
		default:
		}
		t := n.cfg.Clock.NewTimer(n.cfg.HeartbeatInterval)
		select {
		case <-t.C():
		case <-l.conn.Done():
			t.Stop()
			return "link closed"
		case <-n.ctx.Done():
			t.Stop()
			return "node closed"
		}
	}
}
