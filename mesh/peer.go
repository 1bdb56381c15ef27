package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

var errProtocol = errors.New("protocol error")

// peerLink is this node's view of one link: to its parent or to a child.
type peerLink struct {
	n        *Node
	conn     link.Conn
	peer     link.Peer
	isParent bool

	mu       sync.Mutex
	interest map[string]bool // filters the far side wants; nil for none, replaced (never changed in place) once the link is up
	sent     string          // interest last sent, joined, to skip repeats
	lastBeat time.Time       // the child's last heartbeat message (or its hello)
	ready    bool
	// lv is the transport's liveness when it stands in for heartbeat
	// messages (liveness.go); heard is when recv, its packet count, was
	// last seen to grow.
	lv    link.Liveness
	recv  uint64
	heard time.Time
	// beat is, on a child link judged by packets, the child's declared
	// heartbeat interval: three without a heartbeat lose it.
	beat   time.Duration
	probe  time.Duration // last heartbeat round trip
	listen string        // a child's advertised listen address (siblings.go)
	// toldInAck: the child's alternates went in its hello ack (set and
	// read under n.mu).
	toldInAck bool
	// blobSlots holds one token per blob download being served on this
	// link (blobs.go); made on the first download.
	blobSlots chan struct{}

	ctrlMu      sync.Mutex
	ctrlQ       []ctrlMsg
	ctrlRunning bool // a sender goroutine is draining ctrlQ
	ctrlReady   bool // the link is set up; before, frames only queue
}

// ctrlMsg is a control frame (routes, interest) sent in order on a link.
type ctrlMsg struct {
	t frame.Type
	v any
}

// setOf is the set of filters in fs, or nil when fs is empty.
func setOf(fs []string) map[string]bool {
	if len(fs) == 0 {
		return nil
	}
	set := make(map[string]bool, len(fs))
	for _, f := range fs {
		set[f] = true
	}
	return set
}

func (n *Node) newLink(c link.Conn, isParent bool) *peerLink {
	l := &peerLink{n: n, conn: c, peer: c.Peer(), isParent: isParent}
	if isParent { // a child link has it when the child asks (takeChildLiveness)
		if l.lv = n.liveness(c); l.lv != nil {
			l.recv, l.heard = l.lv.Received(), n.cfg.Clock.Now()
		}
	}
	return l
}

// enqueue queues a control frame. Queued frames are sent one at a time, in
// order, each waiting for its acknowledgement, by a sender goroutine that
// exists only while the queue is not empty: an idle link costs no goroutine.
func (l *peerLink) enqueue(t frame.Type, v any) {
	l.ctrlMu.Lock()
	defer l.ctrlMu.Unlock()
	l.ctrlQ = append(l.ctrlQ, ctrlMsg{t, v})
	if l.ctrlRunning || !l.ctrlReady {
		return
	}
	l.startSender()
}

// startControl allows sending once the link is set up (after the hello),
// and sends what was queued before.
func (l *peerLink) startControl() {
	l.ctrlMu.Lock()
	defer l.ctrlMu.Unlock()
	l.ctrlReady = true
	if len(l.ctrlQ) > 0 && !l.ctrlRunning {
		l.startSender()
	}
}

// startSender runs the sender; l.ctrlMu must be held.
func (l *peerLink) startSender() {
	l.ctrlRunning = true
	n := l.n
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			l.ctrlMu.Lock()
			if len(l.ctrlQ) == 0 || n.ctx.Err() != nil {
				l.ctrlRunning = false
				l.ctrlQ = nil
				l.ctrlMu.Unlock()
				return
			}
			m := l.ctrlQ[0]
			l.ctrlQ = l.ctrlQ[1:]
			l.ctrlMu.Unlock()
			select {
			case <-l.conn.Done():
				continue // drop: the link is gone
			default:
			}
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
			_, _, err := l.call(ctx, m.t, m.v)
			cancel()
			if err != nil {
				l.controlFailed(m, err)
			}
		}
	}()
}

// controlFailed handles a control frame that did not get through. Routes
// are deltas and interest is sent only when it changes, so a lost frame
// would leave the far side wrong until the link ends: the link is closed
// instead, and the child's next hello (and its ack) carries the whole
// state again. A frame the peer answered with an error was received and
// judged: it is not resent.
func (l *peerLink) controlFailed(m ctrlMsg, err error) {
	n := l.n
	var re *RemoteError
	if errors.As(err, &re) {
		n.log.Warn("control frame refused", "peer", string(l.peer.Name), "type", m.t, "err", err)
		return
	}
	select {
	case <-l.conn.Done():
		return // the link is gone already: it resyncs when the child links again
	case <-n.ctx.Done():
		return
	default:
	}
	n.counter.ControlResyncs.Add(1)
	n.log.Warn("control frame failed: closing the link to resync", "peer", string(l.peer.Name), "type", m.t, "err", err)
	l.conn.Close()
}

// call opens a stream, sends one frame and reads the reply frame. A tError
// reply becomes a *RemoteError.
func (l *peerLink) call(ctx context.Context, t frame.Type, v any) (frame.Type, []byte, error) {
	s, stop, err := l.open(ctx, t, v)
	if err != nil {
		return 0, nil, err
	}
	defer stop()
	rt, p, err := l.n.readReply(s)
	if err == nil {
		err = expectEOF(s)
	}
	if err != nil {
		s.Abort()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
	}
	return rt, p, err
}

// open opens a stream and writes one frame, leaving the stream open for
// the reply. The stream is aborted when ctx ends (until stop is called):
// cheaper than transport deadlines, which cost a timer per blocking read.
func (l *peerLink) open(ctx context.Context, t frame.Type, v any) (s link.Stream, stop func() bool, err error) {
	s, err = l.conn.OpenStream(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open stream to %s: %w", l.peer.Name, err)
	}
	stop = context.AfterFunc(ctx, s.Abort)
	if err := writeFrame(s, t, v); err != nil {
		stop()
		s.Abort()
		return nil, nil, fmt.Errorf("send to %s: %w", l.peer.Name, err)
	}
	if err := s.CloseWrite(); err != nil {
		stop()
		s.Abort()
		return nil, nil, err
	}
	return s, stop, nil
}

// oneWay sends one frame whose handling has no reply: the peer
// acknowledges receipt (tOK) before it handles the frame.
func (l *peerLink) oneWay(ctx context.Context, t frame.Type, v any) error {
	_, _, err := l.call(ctx, t, v)
	return err
}

// expectEOF checks that a stream ends after the frame just read: the
// protocol is one frame each way.
func expectEOF(s link.Stream) error {
	var b [1]byte
	k, err := s.Read(b[:])
	if k > 0 {
		return fmt.Errorf("%w: data after the frame", errProtocol)
	}
	if err == io.EOF {
		return nil
	}
	return err
}

func writeFrame(s link.Stream, t frame.Type, v any) error {
	switch b := v.(type) {
	case nil:
		return frame.Write(s, t, nil)
	case []byte:
		return frame.Write(s, t, b)
	default:
		return frame.WriteMsg(s, t, v)
	}
}

func (n *Node) readReply(s link.Stream) (frame.Type, []byte, error) {
	t, p, err := frame.Read(s, n.cfg.MaxFrame)
	if err != nil {
		return 0, nil, fmt.Errorf("read reply: %w", err)
	}
	if t == tError {
		var e errorMsg
		if err := frame.Unmarshal(p, &e); err != nil {
			return 0, nil, fmt.Errorf("bad error reply: %w", err)
		}
		return t, nil, &RemoteError{Code: e.Code, Msg: e.Msg}
	}
	return t, p, nil
}

func replyError(s link.Stream, code string, format string, args ...any) {
	writeFrame(s, tError, errorMsg{Code: code, Msg: fmt.Sprintf(format, args...)})
	s.CloseWrite()
}

func replyOK(s link.Stream) {
	frame.Write(s, tOK, nil)
	s.CloseWrite()
}
