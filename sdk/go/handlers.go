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

// maxTopics bounds the interned topic strings. Past it, each message whose
// topic is not yet interned gets its own copy (one allocation).
const maxTopics = 1024

// topics interns topic strings: the host writes topics into a region it may
// reuse, so handlers get a stable copy, made once per distinct topic.
var topics = make(map[string]string)

// stableTopic returns a string equal to the borrowed string b that stays
// valid after b's memory is reused. The map lookup does not allocate.
func stableTopic(b string) string {
	if s, ok := topics[b]; ok {
		return s
	}
	s := string([]byte(b)) // a real copy
	if len(topics) < maxTopics {
		topics[s] = s
	}
	return s
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
