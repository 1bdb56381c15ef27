package broker

import (
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// tapHook hands every accepted publish to the registered taps. Unlike an
// in-process subscription it costs mochi no subscriber lookup: mochi
// allocates ~1.8 KB per publish gathering subscribers, half of it for
// in-process ones (devbench BenchmarkCanopyPipeline, -memprofile), and a
// tap feeding route.Router — which matches filters with its own trie — is
// what a node's runtime needs.
type tapHook struct {
	mqtt.HookBase
	mu   sync.Mutex // serialises Tap
	taps atomic.Pointer[[]func(topic string, payload []byte)]
}

func (h *tapHook) ID() string { return "canopy-tap" }

func (h *tapHook) Provides(b byte) bool { return b == mqtt.OnPublished }

func (h *tapHook) OnPublished(_ *mqtt.Client, pk packets.Packet) {
	taps := h.taps.Load()
	if taps == nil {
		return
	}
	for _, fn := range *taps {
		fn(pk.TopicName, pk.Payload)
	}
}

func (h *tapHook) add(fn func(string, []byte)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var next []func(string, []byte)
	if cur := h.taps.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, fn)
	h.taps.Store(&next)
}

// Tap registers fn to receive every message the broker accepts — from
// network clients after their ACL checks, and from Publish — whatever its
// topic ("$SYS" topics excepted). fn runs on the publisher's goroutine
// after the message went to subscribers, so it must not block (hand off,
// e.g. to route.Router.Deliver). payload is the message's own buffer, never
// reused by the broker; it must not be modified. Taps cannot be removed.
func (b *Broker) Tap(fn func(topic string, payload []byte)) { b.tap.add(fn) }
