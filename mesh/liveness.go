package mesh

import (
	"time"

	"github.com/canopy-fleet/canopy/mesh/link"
)

// Liveness from the transport. On a link whose transport keeps an idle
// connection alive (QUIC keep-alives, acknowledged by the peer's stack),
// the packets themselves show the peer is there: both ends check the
// packet count every livenessTick and lose the peer when it has not grown
// for LostAfter, with no stream per heartbeat (each one costs a stream's
// state and garbage at the parent, 2,000 a second at a gateway with 1,000
// children).
//
// The child chooses, and says so in its hello (hello.Beat): when its
// keep-alive is at most a third of LostAfter it beats only every
// AppHeartbeatInterval, to prove its node alive and not only its QUIC
// stack, and its parent judges it by packets and by that interval. While
// the link is slow (quic-go waits 1.5 probe timeouts before a keep-alive,
// so the wait plus the round trip may pass a third of LostAfter) the child
// beats every HeartbeatInterval again, and the answers keep packets
// arriving at both ends. A child that does not say so beats every
// HeartbeatInterval and is judged by its beats, as before.

// liveness is c's transport liveness when its keep-alive is at most a
// third of LostAfter (so normal jitter never looks like a loss), else nil:
// the link then beats every HeartbeatInterval.
func (n *Node) liveness(c link.Conn) link.Liveness {
	lv, ok := c.(link.Liveness)
	if !ok {
		return nil
	}
	if ka := lv.KeepAlive(); ka <= 0 || 3*ka > n.cfg.LostAfter {
		return nil
	}
	return lv
}

// slow reports whether parent link l now goes too long between packets
// for keep-alives alone: the keep-alive wait and a round trip over a
// third of LostAfter.
func (n *Node) slow(l *peerLink) bool {
	return 3*(l.lv.KeepAlive()+l.conn.RTT()) > n.cfg.LostAfter
}

// livenessTick is how often the packet counts are checked.
func (n *Node) livenessTick() time.Duration { return n.cfg.HeartbeatInterval / 4 }

// silentFor is how long without a new packet makes a peer lost: LostAfter
// less two ticks, as the time a packet was seen is up to a tick after it
// arrived and the check that notices the silence up to a tick late, so a
// peer is lost within LostAfter of its last packet.
func (n *Node) silentFor() time.Duration { return n.cfg.LostAfter - 2*n.livenessTick() }

// appLostAfter is how long a parent on a link with transport liveness
// may answer no heartbeat message before it is lost.
func (n *Node) appLostAfter() time.Duration { return 3 * n.cfg.AppHeartbeatInterval }

// heardLocked is when l's peer was last heard from: its last heartbeat
// message or, with transport liveness, the last time its packet count was
// seen to grow (checked now). l.mu is held.
func (l *peerLink) heardLocked(now time.Time) time.Time {
	if l.lv == nil {
		return l.lastBeat
	}
	if r := l.lv.Received(); r != l.recv {
		l.recv, l.heard = r, now
	}
	if l.lastBeat.After(l.heard) {
		return l.lastBeat
	}
	return l.heard
}

// childLost reports why child link l is lost at now, or "" while it is
// not. l.mu is held.
func (n *Node) childLostLocked(l *peerLink, now time.Time) string {
	heard := l.heardLocked(now)
	if l.lv == nil {
		if now.Sub(heard) >= n.cfg.LostAfter {
			return "no heartbeat for " + n.cfg.LostAfter.String()
		}
		return ""
	}
	if d := now.Sub(heard); d >= n.silentFor() {
		return "nothing received for " + d.Round(time.Millisecond).String()
	}
	if d := now.Sub(l.lastBeat); d >= 3*l.beat {
		return "no heartbeat message for " + d.Round(time.Millisecond).String()
	}
	return ""
}

// childBeat is the heartbeat interval a child declared in its hello
// (hello.Beat, milliseconds), or 0 when it beats every HeartbeatInterval.
func childBeat(h hello) time.Duration { return time.Duration(h.Beat) * time.Millisecond }

// takeChildLiveness makes child link l judged by packets when the child
// said it beats every beat and its link has transport liveness; l is not
// shared yet.
func (n *Node) takeChildLiveness(l *peerLink, beat time.Duration, now time.Time) {
	lv, ok := l.conn.(link.Liveness)
	if beat <= 0 || !ok {
		return
	}
	l.lv, l.beat = lv, beat
	l.recv, l.heard = lv.Received(), now
}
