package mesh

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/backoff"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// seenSize bounds the publication IDs remembered for dedupe.
const seenSize = 8192

type subscription struct {
	filter string
	h      func(Message)
}

// topicState is the node's local subscriptions and dedupe memory. Guarded
// by Node.mu.
type topicState struct {
	subs   map[int]subscription
	nextID int
	local  map[string]int // filter → local subscription count
	// upInterest is the parent link's last interest, guarded by the
	// node's mu. While the node has no parent (a lost link, a failover)
	// its children are still told of it, so that QoS 1 publications wait
	// for the next parent instead of being dropped as wanted by nobody.
	upInterest map[string]bool
	seenMu     sync.Mutex
	seen       map[string]*delivery
	order      []string
}

// delivery is a publication this node has taken: done closes when its
// delivery ended, err (set before) says whether forwarding failed.
type delivery struct {
	done chan struct{}
	err  error
	// down and up are the links it is being forwarded on (the children,
	// the parent), guarded by seenMu, cleared when it ends.
	down []*peerLink
	up   bool
}

// forwarding records the links d is being forwarded on.
func (t *topicState) forwarding(d *delivery, down []*peerLink, up bool) {
	t.seenMu.Lock()
	d.down, d.up = down, up
	t.seenMu.Unlock()
}

// forwardsTo reports whether d, in progress, is being forwarded to l: a
// repeat from l is then acknowledged at once (l has it), where waiting
// for d would wait for l, and l, its own delivery forwarding to this
// node, for this node.
func (t *topicState) forwardsTo(d *delivery, l *peerLink) bool {
	if l == nil {
		return false
	}
	t.seenMu.Lock()
	defer t.seenMu.Unlock()
	if l.isParent {
		return d.up
	}
	return slices.Contains(d.down, l)
}

func (t *topicState) init() {
	t.subs = map[int]subscription{}
	t.local = map[string]int{}
	t.seen = map[string]*delivery{}
}

// claim records id and returns its delivery, and whether it is new (the
// caller delivers it and calls finish) or a repeat (of one in progress or
// done).
func (t *topicState) claim(id string) (d *delivery, first bool) {
	t.seenMu.Lock()
	defer t.seenMu.Unlock()
	if d := t.seen[id]; d != nil {
		return d, false
	}
	d = &delivery{done: make(chan struct{})}
	t.seen[id] = d
	t.order = append(t.order, id)
	if len(t.order) > seenSize {
		delete(t.seen, t.order[0])
		t.order = t.order[1:]
	}
	return d, true
}

// finish ends the delivery d of id with its forwarding error. A failed
// one is forgotten, so that the sender's retry delivers it again (at
// least once: local subscribers may see it twice) rather than being
// acknowledged as a repeat.
func (t *topicState) finish(id string, d *delivery, err error) {
	t.seenMu.Lock()
	d.err = err
	d.down = nil
	if err != nil && t.seen[id] == d {
		delete(t.seen, id)
	}
	t.seenMu.Unlock()
	close(d.done)
}

// Subscribe calls h for every publication on a topic matching filter
// anywhere in the tree (MQTT wildcards + and #). h runs on the delivering
// goroutine and must not block for long. The returned func unsubscribes.
func (n *Node) Subscribe(filter string, h func(Message)) (func(), error) {
	if err := kernel.ValidateTopicFilter(filter); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	n.mu.Lock()
	id := n.topics.nextID
	n.topics.nextID++
	n.topics.subs[id] = subscription{filter: filter, h: h}
	n.topics.local[filter]++
	n.mu.Unlock()
	n.interestChanged()
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			delete(n.topics.subs, id)
			if n.topics.local[filter]--; n.topics.local[filter] <= 0 {
				delete(n.topics.local, filter)
			}
			n.mu.Unlock()
			n.interestChanged()
		})
	}, nil
}

// Publish sends data on topic to every subscriber in the tree. Local
// subscribers get it directly; links get it only when the subtree behind
// them has a matching subscription. With qos 1 Publish returns once every
// link that needed it acknowledged it (retrying with backoff until ctx is
// done; a node cut off from its parent waits for the next parent link);
// receivers drop duplicates by message ID. For delivery that survives a
// restart, queue the message in the node's outbox instead.
func (n *Node) Publish(ctx context.Context, topic string, data []byte, qos uint8) error {
	if err := kernel.ValidateTopicName(topic); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if qos > 1 {
		return fmt.Errorf("publish: qos %d not supported (0 or 1)", qos)
	}
	m := Message{ID: n.newID(), Src: n.cfg.Name, Topic: topic, Data: data, QoS: qos}
	return n.deliver(ctx, m, nil)
}

// deliver hands m to local subscribers and forwards it on every interested
// link except from: children whose subtrees want it, and the parent when m
// did not come from it and the rest of the tree wants it.
func (n *Node) deliver(ctx context.Context, m Message, from *peerLink) error {
	d, first := n.topics.claim(m.ID)
	if !first {
		// A repeat is acknowledged for what the first delivery did: if
		// that fails, so does this, and the sender tries again. One from
		// a link the first delivery is forwarding to is acknowledged at
		// once: the two would wait for each other (two paths during a
		// failover).
		select {
		case <-d.done:
			return d.err
		default:
		}
		if n.topics.forwardsTo(d, from) {
			return nil
		}
		select {
		case <-d.done:
			return d.err
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w", m.ID, ctx.Err())
		}
	}
	err := n.deliverFirst(ctx, m, from, d)
	n.topics.finish(m.ID, d, err)
	return err
}

// deliverFirst is deliver of a publication not seen before, d.
func (n *Node) deliverFirst(ctx context.Context, m Message, from *peerLink, d *delivery) error {
	n.mu.Lock()
	var hs []func(Message)
	for _, s := range n.topics.subs {
		if kernel.MatchTopic(s.filter, m.Topic) {
			hs = append(hs, s.h)
		}
	}
	var down []*peerLink
	for _, l := range n.children {
		if l != from && l.wants(m.Topic) {
			down = append(down, l)
		}
	}
	up := !n.IsRoot() && (from == nil || !from.isParent)
	n.mu.Unlock()
	if m.QoS > 0 {
		n.topics.forwarding(d, down, up)
	}
	for _, h := range hs {
		h(m)
	}
	// Forwarding stops when the caller gives up or the node closes.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if n.ctx != nil {
		defer context.AfterFunc(n.ctx, cancel)()
	}
	errs := make(chan error, len(down)+1)
	for _, l := range down {
		go func() { errs <- n.forwardDown(ctx, l, m) }()
	}
	if up {
		go func() { errs <- n.forwardUp(ctx, m) }()
	}
	var first error
	for range len(down) + b2i(up) {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// forwardDown sends m to a child. At QoS 1 it retries until the child
// acknowledges; a child whose link is lost has left this subtree, and its
// subscribers with it, so that is not an error.
func (n *Node) forwardDown(ctx context.Context, l *peerLink, m Message) error {
	n.counter.Published.Add(1)
	if m.QoS == 0 {
		return l.oneWay(ctx, tPublish, m)
	}
	bo := backoff.Backoff{Min: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax, Clock: n.cfg.Clock}
	for {
		_, _, err := l.call(ctx, tPublish, m)
		if err == nil {
			return nil
		}
		select {
		case <-l.conn.Done():
			n.log.Debug("publication not delivered: child left", "id", m.ID, "child", string(l.peer.Name))
			return nil
		default:
		}
		if bo.Wait(ctx) != nil {
			return fmt.Errorf("publish %s to %s: %w", m.ID, l.peer.Name, err)
		}
	}
}

// forwardUp sends m to the parent when the rest of the tree wants it. At
// QoS 1 it holds on through a lost parent link: it waits for the next
// parent (until ctx ends) and sends it there.
func (n *Node) forwardUp(ctx context.Context, m Message) error {
	bo := backoff.Backoff{Min: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax, Clock: n.cfg.Clock}
	for {
		n.mu.Lock()
		p := n.parent
		n.mu.Unlock()
		if p == nil {
			if m.QoS == 0 {
				return nil // at most once: no parent, no delivery
			}
			if err := n.WaitParent(ctx); err != nil {
				return fmt.Errorf("publish %s: waiting for a parent: %w", m.ID, err)
			}
			continue
		}
		if !p.wants(m.Topic) {
			return nil
		}
		n.counter.Published.Add(1)
		if m.QoS == 0 {
			return p.oneWay(ctx, tPublish, m)
		}
		_, _, err := p.call(ctx, tPublish, m)
		if err == nil {
			return nil
		}
		if bo.Wait(ctx) != nil {
			return fmt.Errorf("publish %s to %s: %w", m.ID, p.peer.Name, err)
		}
	}
}

func (n *Node) onPublish(l *peerLink, p []byte, s link.Stream, guard *time.Timer) {
	var m Message
	if !n.decode(l, s, p, &m) {
		return
	}
	if err := kernel.ValidateTopicName(m.Topic); err != nil {
		replyError(s, CodeBadRequest, "publish: %v", err)
		return
	}
	ctx, cancel := n.ctxFor(0)
	defer cancel()
	if m.QoS == 0 {
		replyOK(s)
		n.deliver(ctx, m, l)
		return
	}
	guard.Reset(n.cfg.RequestTimeout + time.Second) // ctx bounds the forwarding
	if err := n.deliver(ctx, m, l); err != nil {
		replyError(s, CodeHandler, "%v", err)
		return
	}
	replyOK(s)
}

func (l *peerLink) wants(topic string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for f := range l.interest {
		if kernel.MatchTopic(f, topic) {
			return true
		}
	}
	return false
}

// eachLinkLocked calls f for the parent link, if any, and every child
// link, without building a list: at a gateway with a thousand children
// every join walks them, and a fresh slice per walk is garbage that
// fragments the heap the links' long-lived state lives in.
func (n *Node) eachLinkLocked(f func(*peerLink)) {
	if n.parent != nil {
		f(n.parent)
	}
	for _, l := range n.children {
		f(l)
	}
}

// interestForLocked is the set of filters to announce on link l: this
// node's own subscriptions and every other link's interest, as NATS leaf
// nodes propagate interest.
func (n *Node) interestForLocked(l *peerLink) []string {
	var set map[string]bool
	add := func(f string) {
		if set == nil {
			set = map[string]bool{}
		}
		set[f] = true
	}
	for f := range n.topics.local {
		add(f)
	}
	if n.parent == nil && !l.isParent {
		for f := range n.topics.upInterest {
			add(f)
		}
	}
	n.eachLinkLocked(func(o *peerLink) {
		if o == l {
			return
		}
		o.mu.Lock()
		for f := range o.interest {
			add(f)
		}
		o.mu.Unlock()
	})
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// interestChanged sends each link its interest set where it changed. It
// counts, once, how many sources (this node, each link) want each filter;
// a link's set is every filter wanted by some source other than itself.
// That keeps a change O(links × filters), not O(links²), which matters at
// a gateway with a thousand children. It allocates per filter and per link
// with interest, never per idle link: it runs on every join and leave.
func (n *Node) interestChanged() {
	n.mu.Lock()
	var count map[string]int
	var own map[*peerLink]map[string]bool // each link's interest as counted; links with none are absent
	for f := range n.topics.local {
		if count == nil {
			count = map[string]int{}
		}
		count[f]++
	}
	if n.parent != nil {
		n.parent.mu.Lock()
		n.topics.upInterest = n.parent.interest
		n.parent.mu.Unlock()
	} else {
		for f := range n.topics.upInterest {
			if count == nil {
				count = map[string]int{}
			}
			count[f]++
		}
	}
	n.eachLinkLocked(func(l *peerLink) {
		l.mu.Lock()
		in := l.interest // replaced, never changed in place, once the link is up
		l.mu.Unlock()
		if len(in) == 0 {
			return
		}
		if own == nil {
			own = map[*peerLink]map[string]bool{}
		}
		if count == nil {
			count = map[string]int{}
		}
		own[l] = in
		for f := range in {
			count[f]++
		}
	})
	var all []string
	if len(count) > 0 {
		all = make([]string, 0, len(count))
		for f := range count {
			all = append(all, f)
		}
		sort.Strings(all)
	}
	// Sets are queued to each link before n.mu is released, so that two
	// changes computed one after the other are sent in that order: the
	// link keeps the last set sent (l.sent) and does not resend it.
	n.eachLinkLocked(func(l *peerLink) {
		in := own[l]
		var f []string
		for _, x := range all {
			if count[x]-b2i(in[x]) > 0 {
				f = append(f, x)
			}
		}
		key := ""
		if len(f) > 0 {
			key = strings.Join(f, "\x00")
		}
		l.mu.Lock()
		changed := l.sent != key
		l.sent = key
		l.mu.Unlock()
		if changed {
			l.enqueue(tInterest, interest{Filters: f})
		}
	})
	n.mu.Unlock()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (n *Node) onInterest(l *peerLink, p []byte, s link.Stream) {
	var in interest
	if !n.decode(l, s, p, &in) {
		return
	}
	for _, f := range in.Filters {
		if err := kernel.ValidateTopicFilter(f); err != nil {
			replyError(s, CodeBadRequest, "interest: %v", err)
			return
		}
	}
	set := setOf(in.Filters)
	l.mu.Lock()
	l.interest = set
	l.mu.Unlock()
	replyOK(s)
	n.interestChanged()
}
