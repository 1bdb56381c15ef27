package mesh

import (
	"context"
	"time"

	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// serveLink accepts the streams the peer opens until the link ends. The
// transport's per-connection stream limit bounds how many run at once, so
// a peer that floods streams is slowed down, not served without bound.
func (n *Node) serveLink(l *peerLink) {
	for {
		s, err := l.conn.AcceptStream(n.ctx)
		if err != nil {
			return
		}
		n.runStream(func() {
			// Every exchange is bounded: a peer that stalls mid-frame or
			// never reads its reply loses the stream after RequestTimeout.
			// Handlers that legitimately take longer move the guard.
			g := time.AfterFunc(n.cfg.RequestTimeout, s.Abort)
			defer g.Stop()
			n.handleStream(l, s, g)
		})
	}
}

// handleStream reads the one frame a stream starts with and dispatches it.
// Malformed, oversized and unknown frames get an error reply; nothing a
// peer sends can stop the node.
func (n *Node) handleStream(l *peerLink, s link.Stream, guard *time.Timer) {
	t, p, err := frame.Read(s, n.cfg.MaxFrame)
	if err == nil {
		err = expectEOF(s)
	}
	if err != nil {
		n.counter.Dropped.Add(1)
		n.log.Warn("bad frame", "peer", string(l.peer.Name), "err", err)
		replyError(s, CodeBadRequest, "%v", err)
		return
	}
	switch t {
	case tHeartbeat:
		n.onHeartbeat(l, s)
	case tRequest:
		n.onEnvelope(l, p, s, guard, true)
	case tOneWay:
		n.onEnvelope(l, p, s, guard, false)
	case tRoutes:
		n.onRoutes(l, p, s)
	case tInterest:
		n.onInterest(l, p, s)
	case tPublish:
		n.onPublish(l, p, s, guard)
	case tSiblings:
		n.onSiblings(l, p, s)
	case tRouteProof:
		n.onRouteProof(l, p, s)
	case tBlobGet:
		n.onBlobGet(l, p, s, guard)
	default:
		n.counter.Dropped.Add(1)
		n.log.Warn("unknown frame type", "peer", string(l.peer.Name), "type", t)
		replyError(s, CodeUnknownType, "unknown message type %d", t)
	}
}

// decode unmarshals a payload or replies a bad-request error.
func (n *Node) decode(l *peerLink, s link.Stream, p []byte, v any) bool {
	if err := frame.Unmarshal(p, v); err != nil {
		n.counter.Dropped.Add(1)
		n.log.Warn("bad payload", "peer", string(l.peer.Name), "err", err)
		replyError(s, CodeBadRequest, "decode: %v", err)
		return false
	}
	return true
}

func (n *Node) onHeartbeat(l *peerLink, s link.Stream) {
	if l.isParent {
		replyError(s, CodeBadRequest, "heartbeats go from child to parent")
		return
	}
	n.counter.HeartbeatsReceived.Add(1)
	l.mu.Lock()
	l.lastBeat = n.cfg.Clock.Now()
	first := !l.ready
	l.ready = true
	l.mu.Unlock()
	replyOK(s)
	if first {
		n.emit(EventChildReady, l.peer.Name, "first heartbeat")
	}
}

// ctxFor derives a context for handling a message with a timeout in ms.
func (n *Node) ctxFor(ms int64) (context.Context, context.CancelFunc) {
	d := time.Duration(ms) * time.Millisecond
	if d <= 0 || d > n.cfg.RequestTimeout*10 {
		d = n.cfg.RequestTimeout
	}
	return context.WithTimeout(n.ctx, d)
}
