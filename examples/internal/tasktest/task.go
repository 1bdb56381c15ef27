//go:build !wasip1

package tasktest

import (
	"context"
	"sync"

	"github.com/canopy-fleet/canopy/wasmhost"
)

// Message is one message a task published.
type Message struct {
	Topic   string
	Payload string
}

// Task is a running task instance and what it has published.
type Task struct {
	inst *wasmhost.Instance
	mu   sync.Mutex
	out  []Message
}

func (task *Task) publish(_ context.Context, topic string, payload []byte) error {
	task.mu.Lock()
	defer task.mu.Unlock()
	task.out = append(task.out, Message{Topic: topic, Payload: string(payload)})
	return nil
}

// Instance is the wasmhost instance, for what the helpers do not cover.
func (task *Task) Instance() *wasmhost.Instance { return task.inst }

// Send delivers one message to the task's message handler and returns what
// wasmhost returns: nil, a *wasmhost.HandlerError, or a fatal error.
func (task *Task) Send(topic, payload string) error {
	return task.inst.OnMessage(context.Background(), topic, []byte(payload))
}

// Tick calls the task's tick handler.
func (task *Task) Tick() error {
	return task.inst.OnTick(context.Background())
}

// Take returns the messages published since the last Take.
func (task *Task) Take() []Message {
	task.mu.Lock()
	defer task.mu.Unlock()
	out := task.out
	task.out = nil
	return out
}
