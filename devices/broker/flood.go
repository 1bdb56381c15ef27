package broker

import (
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// floodHook limits each client's publish rate with a token bucket (burst of
// one second's worth); a client that runs its bucket dry is disconnected.
// Buckets are kept by client id, so reconnecting does not refill one; a
// bucket is forgotten when its client disconnects with it full again, and
// at most maxBuckets are kept. The in-process client (Broker.Publish) is
// not limited.
type floodHook struct {
	mqtt.HookBase
	rate  float64
	now   func() time.Time
	mu    sync.Mutex
	bkts  map[string]*bucket
	kicks atomic.Int64
	log   func(msg string, args ...any)
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFloodHook(rate float64, now func() time.Time, log func(string, ...any)) *floodHook {
	return &floodHook{rate: rate, now: now, bkts: map[string]*bucket{}, log: log}
}

func (h *floodHook) ID() string { return "canopy-flood" }

func (h *floodHook) Provides(b byte) bool { return b == mqtt.OnPacketRead || b == mqtt.OnDisconnect }

// OnPacketRead charges one token per PUBLISH; an empty bucket rejects the
// packet, which makes mochi drop the connection.
func (h *floodHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return pk, nil
	}
	now := h.now()
	h.mu.Lock()
	b := h.bkts[cl.ID]
	if b == nil {
		if len(h.bkts) >= maxBuckets {
			h.evictFull(now)
		}
		b = &bucket{tokens: h.rate, last: now}
		h.bkts[cl.ID] = b
	}
	b.refill(now, h.rate)
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	h.mu.Unlock()
	if !ok {
		h.kicks.Add(1)
		h.log("client exceeds its publish rate; disconnecting", "client", cl.ID, "rate", h.rate)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// maxBuckets bounds the remembered buckets (a flood of client ids).
const maxBuckets = 100_000

func (b *bucket) refill(now time.Time, rate float64) {
	b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
}

// evictFull drops full buckets, or any half of them if none is full.
func (h *floodHook) evictFull(now time.Time) {
	n := 0
	for id, b := range h.bkts {
		b.refill(now, h.rate)
		if b.tokens >= h.rate || n < maxBuckets/2 {
			delete(h.bkts, id)
			n++
		}
	}
}

// OnDisconnect forgets the client's bucket if it is full again.
func (h *floodHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	if b := h.bkts[cl.ID]; b != nil {
		b.refill(h.now(), h.rate)
		if b.tokens >= h.rate {
			delete(h.bkts, cl.ID)
		}
	}
	h.mu.Unlock()
}
