package route

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/canopy-fleet/canopy/kernel"
)

// DefaultQueueSize bounds each subscriber's queue when Config.QueueSize is 0.
const DefaultQueueSize = 1024

// Config configures a Router.
type Config struct {
	// QueueSize bounds each subscriber's queue of undelivered messages.
	QueueSize int
	// Logger receives the router's logs; nil discards them.
	Logger *slog.Logger
}

// Handler receives one message on the subscriber's own goroutine. payload
// is shared between subscribers of the same message and must not be
// modified.
type Handler func(topic string, payload []byte)

// Subscriber is one task replica's subscriptions.
type Subscriber struct {
	// ID names the replica uniquely within the router.
	ID string
	// Group names the replicas that share shared subscriptions, usually
	// the deployment; empty means ID.
	Group string
	Subs  []kernel.Subscription
	// Handler runs for each routed message.
	Handler Handler
}

// Stats are one subscriber's counters.
type Stats struct {
	Delivered int64 // handled
	Overflow  int64 // dropped because its queue was full
	Panics    int64 // handler calls that panicked
	Queued    int   // waiting now
}

// Router routes published messages to subscribers.
type Router struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.RWMutex
	trie trie
	subs map[string]*subscriber
	// groups are shared subscriptions: group name + filter → binding.
	groups map[string]*binding
	seed   maphash.Seed
}

// subscriber is a replica with its queue and worker.
type subscriber struct {
	id        string
	h         Handler
	queue     chan message
	done      chan struct{}
	exited    chan struct{}
	delivered atomic.Int64
	overflow  atomic.Int64
	panics    atomic.Int64
	bindings  []*binding
}

type message struct {
	topic   string
	payload []byte
}

// binding is one entry in the trie: a plain subscription of one subscriber,
// or a shared group of subscribers.
type binding struct {
	filter  string
	members []*subscriber // one for a plain subscription
	policy  kernel.SharePolicy
	byPay   bool // ShareHash keyed on the payload
	next    atomic.Uint64
}

// New returns an empty router.
func New(cfg Config) (*Router, error) {
	if cfg.QueueSize < 0 {
		return nil, fmt.Errorf("route config: queueSize %d must not be negative", cfg.QueueSize)
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "route"),
		subs:   map[string]*subscriber{},
		groups: map[string]*binding{},
		seed:   maphash.MakeSeed(),
	}, nil
}

// Add registers a subscriber and starts its goroutine.
func (r *Router) Add(s Subscriber) error {
	if s.ID == "" {
		return errors.New("route add: empty subscriber id")
	}
	if s.Handler == nil {
		return fmt.Errorf("route add %s: nil handler", s.ID)
	}
	for _, sub := range s.Subs {
		if err := kernel.ValidateTopicFilter(sub.Topic); err != nil {
			return fmt.Errorf("route add %s: filter %q: %w", s.ID, sub.Topic, err)
		}
		switch sub.Shared {
		case "", kernel.ShareRoundRobin, kernel.ShareLeastLoaded, kernel.ShareHash:
		default:
			return fmt.Errorf("route add %s: filter %q: unknown share policy %q", s.ID, sub.Topic, sub.Shared)
		}
		if sub.Key != "" && sub.Key != "topic" && sub.Key != "payload" {
			return fmt.Errorf("route add %s: filter %q: hash key %q must be topic or payload", s.ID, sub.Topic, sub.Key)
		}
	}
	group := s.Group
	if group == "" {
		group = s.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.subs[s.ID]; dup {
		return fmt.Errorf("route add: subscriber %q exists", s.ID)
	}
	sb := &subscriber{
		id: s.ID, h: s.Handler,
		queue:  make(chan message, r.cfg.QueueSize),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for _, sub := range s.Subs {
		if sub.Shared == "" {
			b := &binding{filter: sub.Topic, members: []*subscriber{sb}}
			r.trie.insert(sub.Topic, b)
			sb.bindings = append(sb.bindings, b)
			continue
		}
		key := group + "\x00" + sub.Topic
		b := r.groups[key]
		if b == nil {
			b = &binding{filter: sub.Topic, policy: sub.Shared, byPay: sub.Key == "payload"}
			r.groups[key] = b
			r.trie.insert(sub.Topic, b)
		} else if b.policy != sub.Shared {
			return fmt.Errorf("route add %s: filter %q shared %s, but group %q shares it %s", s.ID, sub.Topic, sub.Shared, group, b.policy)
		}
		// Copy on write: Deliver reads members under the read lock only.
		b.members = append(append([]*subscriber(nil), b.members...), sb)
		sb.bindings = append(sb.bindings, b)
	}
	r.subs[s.ID] = sb
	go sb.run()
	return nil
}

// Remove unregisters a subscriber and waits for its goroutine to finish the
// message in hand; queued messages are discarded.
func (r *Router) Remove(id string) {
	r.mu.Lock()
	sb := r.subs[id]
	if sb == nil {
		r.mu.Unlock()
		return
	}
	delete(r.subs, id)
	for _, b := range sb.bindings {
		if b.policy == "" {
			r.trie.remove(b.filter, b)
			continue
		}
		var keep []*subscriber
		for _, m := range b.members {
			if m != sb {
				keep = append(keep, m)
			}
		}
		b.members = keep
		if len(keep) == 0 {
			r.trie.remove(b.filter, b)
			for k, g := range r.groups {
				if g == b {
					delete(r.groups, k)
				}
			}
		}
	}
	r.mu.Unlock()
	close(sb.done)
	<-sb.exited
}

// Close removes every subscriber.
func (r *Router) Close() {
	r.mu.RLock()
	ids := make([]string, 0, len(r.subs))
	for id := range r.subs {
		ids = append(ids, id)
	}
	r.mu.RUnlock()
	for _, id := range ids {
		r.Remove(id)
	}
}

// Deliver routes one message without blocking and returns how many
// subscribers it was queued for. A subscriber matched by several filters
// gets it once.
func (r *Router) Deliver(topic string, payload []byte) int {
	var targets [8]*subscriber
	t := targets[:0]
	r.mu.RLock()
	r.trie.match(topic, func(b *binding) {
		sb := r.pick(b, topic, payload)
		if sb == nil {
			return
		}
		for _, x := range t {
			if x == sb {
				return
			}
		}
		t = append(t, sb)
	})
	r.mu.RUnlock()
	n := 0
	for _, sb := range t {
		select {
		case sb.queue <- message{topic, payload}:
			n++
		default:
			if c := sb.overflow.Add(1); c&(c-1) == 0 {
				r.log.Warn("subscriber queue full; dropping", "subscriber", sb.id, "overflow", c)
			}
		}
	}
	return n
}

// pick chooses the member of b that gets the message.
func (r *Router) pick(b *binding, topic string, payload []byte) *subscriber {
	ms := b.members
	switch {
	case len(ms) == 0:
		return nil
	case len(ms) == 1:
		return ms[0]
	}
	switch b.policy {
	case kernel.ShareLeastLoaded:
		best := ms[b.next.Add(1)%uint64(len(ms))] // rotate among equals
		for _, m := range ms {
			if len(m.queue) < len(best.queue) {
				best = m
			}
		}
		return best
	case kernel.ShareHash:
		var h uint64
		if b.byPay {
			h = maphash.Bytes(r.seed, payload)
		} else {
			h = maphash.String(r.seed, topic)
		}
		return ms[h%uint64(len(ms))]
	default:
		return ms[b.next.Add(1)%uint64(len(ms))]
	}
}

// Stats returns a subscriber's counters.
func (r *Router) Stats(id string) (Stats, bool) {
	r.mu.RLock()
	sb := r.subs[id]
	r.mu.RUnlock()
	if sb == nil {
		return Stats{}, false
	}
	return Stats{Delivered: sb.delivered.Load(), Overflow: sb.overflow.Load(), Panics: sb.panics.Load(), Queued: len(sb.queue)}, true
}

// AllStats returns every subscriber's counters, by ID (for reporting
// overflow per task).
func (r *Router) AllStats() map[string]Stats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]Stats, len(r.subs))
	for id, sb := range r.subs {
		out[id] = Stats{Delivered: sb.delivered.Load(), Overflow: sb.overflow.Load(), Panics: sb.panics.Load(), Queued: len(sb.queue)}
	}
	return out
}

func (s *subscriber) run() {
	defer close(s.exited)
	for {
		select {
		case m := <-s.queue:
			s.handle(m)
		case <-s.done:
			return
		}
	}
}

// handle runs the handler; a panic is contained to the message (the
// supervisor above decides what a failing task means).
func (s *subscriber) handle(m message) {
	defer func() {
		if p := recover(); p != nil {
			s.panics.Add(1)
		}
	}()
	s.h(m.topic, m.payload)
	s.delivered.Add(1)
}
