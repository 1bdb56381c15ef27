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
// children). A heartbeat message still goes every AppHeartbeatInterval,
// to prove the peer's node alive and not only its QUIC stack.

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

// livenessTick is how often the packet counts are checked.
func (n *Node) livenessTick() time.Duration { return n.cfg.HeartbeatInterval / 4 }

// silentFor is how long without a new packet makes a peer lost: LostAfter
// less two ticks, as the time a packet was seen is up to a tick after it
// arrived and the check that notices the silence up to a tick late, so a
// peer is lost within LostAfter of its last packet.
func (n *Node) silentFor() time.Duration { return n.cfg.LostAfter - 2*n.livenessTick() }

// appLostAfter is how long a peer on a link with transport liveness may
// answer or send no heartbeat message before it is lost.
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
	if d := now.Sub(l.lastBeat); d >= n.appLostAfter() {
		return "no heartbeat message for " + d.Round(time.Millisecond).String()
	}
	return ""
}
