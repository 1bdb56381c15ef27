package canopy

import (
	"fmt"
	"unsafe"
)

// MessageHandler handles one message on a subscribed topic. topic is safe
// to keep; data is valid only until the handler returns (copy what you
// keep). A non-nil error marks the message as failed: it is logged and
// counted by the host, and the task carries on.
type MessageHandler func(topic string, data []byte) error

// TickHandler runs every tick (the tick: interval of the manifest, or
// `canopy run --tick`). A non-nil error is logged and counted by the host.
type TickHandler func() error

var (
	messageHandler MessageHandler
	tickHandler    TickHandler
)

// OnMessage sets the function called for every message on the topics the
// task subscribes to, replacing any earlier one. Call it from init in a
// service. Messages arrive one at a time, in the order the device received
// them; a message that arrives while no handler is set is ignored. Use
// [Match] to route by topic:
//
//	canopy.OnMessage(func(topic string, data []byte) error {
//		switch {
//		case canopy.Match("sensors/+/temperature", topic):
//			return onTemperature(topic, data)
//		case canopy.Match("sensors/+/humidity", topic):
//			return onHumidity(topic, data)
//		}
//		return nil
//	})
func OnMessage(h func(topic string, data []byte) error) { messageHandler = h }

// OnTick sets the function called every tick, replacing any earlier one.
// Call it from init in a service. A task without a tick: interval is never
// ticked.
func OnTick(h func() error) { tickHandler = h }

// Topic interning. The host writes topics into a region it may reuse, so a
// handler gets a stable copy, made once per distinct topic and found again
// by an open-addressing table of topicSlots strings. (A Go map costs about
// 500ns per lookup in a wasm build, where its hash has no hardware
// support: more than the rest of a message's delivery. hashTopic and one
// string compare cost far less.)
const (
	topicSlots = 1024
	// maxTopics bounds the interned topics (a load of at most 3/4 keeps
	// probes short). Past it, each message whose topic is not interned gets
	// its own copy: one allocation.
	maxTopics = topicSlots * 3 / 4
)

var (
	topicTable [topicSlots]string
	topicCount int
)

// stableTopic returns a string equal to the borrowed, non-empty string b
// that stays valid after b's memory is reused. It allocates only the first
// time it sees a topic.
func stableTopic(b string) string {
	h := hashTopic(b)
	for i := uint32(0); i < topicSlots; i++ {
		slot := &topicTable[(h+i)&(topicSlots-1)]
		if *slot == b {
			return *slot
		}
		if *slot == "" { // b is not interned
			s := string([]byte(b)) // a real copy
			if topicCount < maxTopics {
				*slot = s
				topicCount++
			}
			return s
		}
	}
	return string([]byte(b)) // unreachable: the table is never full
}

// hashTopic is FNV-1a over 8-byte words: a topic of 20-odd bytes takes
// three rounds rather than twenty (byte loops are slow in Go's wasm code).
func hashTopic(b string) uint32 {
	const prime = 1099511628211
	h := uint64(14695981039346656037) ^ uint64(len(b))
	p := unsafe.Pointer(unsafe.StringData(b))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		h = (h ^ *(*uint64)(unsafe.Add(p, i))) * prime
	}
	for ; i < len(b); i++ {
		h = (h ^ uint64(b[i])) * prime
	}
	return uint32(h ^ h>>32)
}

// dispatchMessage runs the message handler for the message at the given
// guest addresses and returns the ABI result: 0 for success, 1 for a handler
// error, 2 for a handler panic.
func dispatchMessage(topicPtr unsafe.Pointer, topicLen int32, dataPtr unsafe.Pointer, dataLen int32) int32 {
	h := messageHandler
	if h == nil {
		return 0
	}
	topic := ""
	if topicLen > 0 {
		topic = stableTopic(unsafe.String((*byte)(topicPtr), topicLen))
	}
	var data []byte
	if dataLen > 0 {
		data = unsafe.Slice((*byte)(dataPtr), dataLen)
	}
	return runMessage(h, topic, data)
}

func runMessage(h MessageHandler, topic string, data []byte) (rc int32) {
	defer func() {
		if r := recover(); r != nil {
			Error("message handler panicked", "topic", topic, "panic", fmt.Sprint(r))
			rc = 2
		}
	}()
	if err := h(topic, data); err != nil {
		Error("message handler failed", "topic", topic, "err", err)
		return 1
	}
	return 0
}

// dispatchTick runs the tick handler and returns the ABI result like
// dispatchMessage.
func dispatchTick() (rc int32) {
	h := tickHandler
	if h == nil {
		return 0
	}
	defer func() {
		if r := recover(); r != nil {
			Error("tick handler panicked", "panic", fmt.Sprint(r))
			rc = 2
		}
	}()
	if err := h(); err != nil {
		Error("tick handler failed", "err", err)
		return 1
	}
	return 0
}
