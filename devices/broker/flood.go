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
// The in-process client (Broker.Publish) is not limited.
type floodHook struct {
	mqtt.HookBase
	rate  float64
	now   func() time.Time
	mu    sync.Mutex
	bkts  map[*mqtt.Client]*bucket
	kicks atomic.Int64
	log   func(msg string, args ...any)
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFloodHook(rate float64, now func() time.Time, log func(string, ...any)) *floodHook {
	return &floodHook{rate: rate, now: now, bkts: map[*mqtt.Client]*bucket{}, log: log}
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
	b := h.bkts[cl]
	if b == nil {
		b = &bucket{tokens: h.rate, last: now}
		h.bkts[cl] = b
	}
	b.tokens = min(h.rate, b.tokens+now.Sub(b.last).Seconds()*h.rate)
	b.last = now
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

// OnDisconnect forgets the client's bucket.
func (h *floodHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	delete(h.bkts, cl)
	h.mu.Unlock()
}
