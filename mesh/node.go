package mesh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Node is one member of the tree. Create it with New, start it with Start,
// stop it with Close. All methods are safe for concurrent use.
type Node struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ln     link.Listener

	mu       sync.Mutex
	parent   *peerLink
	pending  *peerLink // parent link being set up: queues route changes
	children map[kernel.NodeName]*peerLink
	routes   map[kernel.NodeName]*peerLink // node → child link its subtree hangs from
	handlers map[string]kernel.MessageHandler
	topics   topicState
	lat      latencyGraph
	parentUp chan struct{} // closed while a parent link is up; replaced when lost

	work     chan func() // handoff to idle stream workers (workers.go)
	blobs    blobState
	admit    admitState // connections not yet past their hello (children.go)
	outbox   outboxState
	probes   map[kernel.NodeName]time.Duration // alternates' and siblings' round trips, guarded by mu
	siblings map[kernel.NodeName]string        // listening siblings' addresses (siblings.go), guarded by mu
	learned  []Parent                          // alternates learned from the parent (alternates.go), guarded by mu
	linkedTo Parent                            // the entry the parent link was dialed by, guarded by mu
	toldAlts []siblingAddr                     // alternates last told to the children, guarded by mu
	claims   claimState                        // route proofs (routes_proof.go), guarded by mu
	// revokedNews wakes revocationWatch (revocation.go); buffered 1.
	revokedNews chan struct{}
	// probeSoon wakes probeLoop when its targets change; buffered 1.
	probeSoon chan struct{}
	// altsOut is the newest alternates list not yet handed to
	// OnAlternates, guarded by mu; altsSoon wakes alternatesLoop.
	altsOut  *[]Parent
	altsSoon chan struct{}
	nonce    string
	seq      atomic.Uint64
	counter  Counters
}

// Counters are totals a node keeps about its work, for tests and metrics.
type Counters struct {
	BlobServes     atomic.Int64 // blob downloads served from this node's store
	BlobFetches    atomic.Int64 // blob downloads this node made from its parent
	Relayed        atomic.Int64 // routed messages passed on to another hop
	Published      atomic.Int64 // publications forwarded on a link
	Dropped        atomic.Int64 // frames refused as malformed or unknown
	OutboxMessages atomic.Int64 // outbox messages delivered here (root) or acked (sender)

	RequestsSent     atomic.Int64 // Request calls this node made, to any node (itself included)
	RequestsFailed   atomic.Int64 // of RequestsSent, those that ended in an error (timeouts included)
	RequestsTimedOut atomic.Int64 // of RequestsFailed, those whose deadline passed here or on the way
	RequestsServed   atomic.Int64 // requests addressed to this node that it answered (reply or error)

	HeartbeatsSent     atomic.Int64 // heartbeats sent to the parent
	HeartbeatsMissed   atomic.Int64 // of HeartbeatsSent, those the parent did not answer in time
	HeartbeatsReceived atomic.Int64 // heartbeats received from children
	HeartbeatTimeouts  atomic.Int64 // children dropped because their heartbeats stopped for LostAfter

	BlobBytesServed  atomic.Int64 // blob bytes sent to children
	BlobBytesFetched atomic.Int64 // blob bytes received from the parent (resumed parts included)

	BlobServesActive  atomic.Int64 // gauge: blob downloads being served now
	BlobServesStalled atomic.Int64 // blob serves cut because the child stopped reading for BlobStallTimeout
	BlobServesBusy    atomic.Int64 // blob downloads refused: the link had MaxBlobServesPerLink running

	ConnsPending     atomic.Int64 // gauge: accepted connections that have not said hello yet
	ConnsPendingPeak atomic.Int64 // the most ConnsPending ever held at once
	ConnsRefused     atomic.Int64 // connections closed before they became child links (limits, bad or conflicting hellos)

	CertificateRefusals atomic.Int64 // parent dials refused because the parent did not accept this node's certificate
	ControlResyncs      atomic.Int64 // links closed because a control frame (routes, interest, siblings) failed, so they resync
	RouteClaimsRefused  atomic.Int64 // route claims from children refused (not routable through them, or no valid proof)
}

// New checks cfg and makes a node; nothing runs until Start.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := make([]byte, 4)
	rand.Read(b)
	n := &Node{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "mesh", "node", string(cfg.Name)),
		children:    map[kernel.NodeName]*peerLink{},
		routes:      map[kernel.NodeName]*peerLink{},
		handlers:    map[string]kernel.MessageHandler{},
		parentUp:    make(chan struct{}),
		work:        make(chan func()),
		probes:      map[kernel.NodeName]time.Duration{},
		learned:     slices.Clone(cfg.Alternates),
		revokedNews: make(chan struct{}, 1),
		probeSoon:   make(chan struct{}, 1),
		altsSoon:    make(chan struct{}, 1),
		nonce:       hex.EncodeToString(b),
	}
	n.topics.init()
	n.lat.init()
	n.blobs.init()
	n.outbox.init()
	n.registerBuiltins()
	return n, nil
}

// Name is this node's name.
func (n *Node) Name() kernel.NodeName { return n.cfg.Name }

// Stats returns the node's counters.
func (n *Node) Stats() *Counters { return &n.counter }

// IsRoot reports whether this node has no parents (a controller).
func (n *Node) IsRoot() bool { return len(n.cfg.Parents) == 0 }

// Start binds the listen address (if any) and starts the node's loops.
// The loops stop when ctx is done or Close is called.
func (n *Node) Start(ctx context.Context) error {
	n.ctx, n.cancel = context.WithCancel(ctx)
	if n.cfg.Listen != "" {
		ln, err := n.cfg.Network.Listen(n.cfg.Listen)
		if err != nil {
			n.cancel()
			return fmt.Errorf("mesh %s: %w", n.cfg.Name, err)
		}
		n.ln = ln
		n.goRun(n.acceptLoop)
		n.goRun(n.monitorChildren)
	}
	if !n.IsRoot() {
		if n.cfg.OnAlternates != nil {
			n.goRun(n.alternatesLoop)
		}
		n.goRun(n.parentLoop)
		n.goRun(n.reportLoop)
		if n.cfg.ProbeInterval > 0 { // alternates may be learned at any time
			n.goRun(n.probeLoop)
		}
		if n.cfg.Outbox != nil {
			n.goRun(n.outboxLoop)
		}
		if n.cfg.Identity != nil {
			n.goRun(n.renewLoop)
		}
		if n.cfg.Revocations != nil {
			n.Handle(kindRevokedNews, n.onRevokedNews)
			n.goRun(n.revocationWatch)
		}
	}
	return nil
}

// Addr is the address children dial, once Start has bound it.
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr()
}

// Close stops the node: it closes the listener and every link and waits for
// its goroutines.
func (n *Node) Close() error {
	if n.cancel == nil {
		return nil
	}
	n.cancel()
	n.mu.Lock()
	var all []*peerLink
	if n.parent != nil {
		all = append(all, n.parent)
	}
	for _, c := range n.children {
		all = append(all, c)
	}
	n.mu.Unlock()
	// Links first, so peers hear the close; then the listener and its socket.
	for _, l := range all {
		l.conn.Close()
	}
	if n.ln != nil {
		n.ln.Close()
	}
	n.wg.Wait()
	return nil
}

func (n *Node) goRun(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

func (n *Node) emit(kind EventKind, peer kernel.NodeName, reason string) {
	n.log.Info(string(kind), "peer", string(peer), "reason", reason)
	if n.cfg.OnEvent != nil {
		n.cfg.OnEvent(Event{Kind: kind, Peer: peer, Reason: reason, At: n.cfg.Clock.Now()})
	}
	if kind == EventChildUp {
		n.childUp(peer)
	}
}

// Parent is the name of the current parent, or "" when none is linked.
func (n *Node) Parent() kernel.NodeName {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.parent == nil {
		return ""
	}
	return n.parent.peer.Name
}

// WaitParent blocks until a parent link is up or ctx is done.
func (n *Node) WaitParent(ctx context.Context) error {
	n.mu.Lock()
	ch := n.parentUp
	n.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Children lists the directly linked children.
func (n *Node) Children() []kernel.NodeName {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]kernel.NodeName, 0, len(n.children))
	for c := range n.children {
		out = append(out, c)
	}
	return out
}

// Reaches reports whether node is in this node's subtree (routes known).
func (n *Node) Reaches(node kernel.NodeName) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.routes[node]
	return ok
}

func (n *Node) newID() string {
	return fmt.Sprintf("%s-%s-%d", n.cfg.Name, n.nonce, n.seq.Add(1))
}

var errClosed = errors.New("mesh: node closed")

func (n *Node) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, n.cfg.RequestTimeout)
}

// sleep waits d on the node's clock; false when the node is stopping.
func (n *Node) sleep(ctx context.Context, d time.Duration) bool {
	t := n.cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}
