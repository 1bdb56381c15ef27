package mesh

import (
	"math"
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

// maxBeat is the longest heartbeat interval a parent accepts from a child
// (its own AppHeartbeatInterval, at least a minute): longer would leave a
// hung node whose QUIC stack still answers linked for that long.
func (n *Node) maxBeat() time.Duration { return max(n.cfg.AppHeartbeatInterval, time.Minute) }

// acceptBeat is the heartbeat interval a parent judges child connection c
// by, from the one it declared in its hello: 0 (a beat message every
// HeartbeatInterval, judged by those) when it declared none or this end's
// transport cannot stand in for beats, else the declared one within
// [HeartbeatInterval, maxBeat]. The parent says which in its ack.
func (n *Node) acceptBeat(c link.Conn, h hello) time.Duration {
	d := time.Duration(h.Beat) * time.Millisecond
	if d <= 0 || n.liveness(c) == nil {
		return 0
	}
	return min(max(d, n.cfg.HeartbeatInterval), n.maxBeat())
}

// beatMillis is d in whole milliseconds for a hello or ack, rounded up and
// at most what the field holds.
func beatMillis(d time.Duration) uint32 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return uint32(min(ms, math.MaxUint32))
}

// takeChildLiveness makes child link l judged by packets and by heartbeat
// interval beat (acceptBeat), when beat is not 0; l is not shared yet.
func (n *Node) takeChildLiveness(l *peerLink, beat time.Duration, now time.Time) {
	if beat <= 0 {
		return
	}
	l.lv, l.beat = l.conn.(link.Liveness), beat
	l.recv, l.heard = l.lv.Received(), now
}

// takeParentBeat settles parent link l's heartbeats by the parent's ack:
// the interval it accepted, or, when it accepted none, a beat message
// every HeartbeatInterval.
func takeParentBeat(l *peerLink, ack helloAck) {
	if ack.Beat == 0 {
		l.lv = nil
		return
	}
	l.beat = time.Duration(ack.Beat) * time.Millisecond
}
