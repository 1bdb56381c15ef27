package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// TaskConfig is what one task instance is granted. Zero fields mean the
// defaults named on each.
type TaskConfig struct {
	// ID names the task; it is the KV namespace and appears on every log
	// line. Required.
	ID kernel.TaskID
	// Type is kernel.TypeService (default: a reactor driven by OnMessage and
	// OnTick) or kernel.TypeJob (Run calls _start to completion).
	Type kernel.TaskType
	// Limits bound the instance; zero fields take kernel.DefaultLimits.
	Limits kernel.Limits
	// Config is what config_get returns.
	Config map[string]string
	// Publish are the topic filters (MQTT syntax, kernel.MatchTopic) the task
	// may publish to; anything else gets -1.
	Publish []string
	// Publisher carries what the task publishes. Nil: publish returns -7.
	Publisher Publisher
	// Logger receives the task's log lines, its stdout and stderr (with
	// component "task" and the task id). Nil: the Host's logger.
	Logger *slog.Logger
	// Clock is the time source for rate limits. Nil: time.Now.
	Clock func() time.Time
}

// Publisher carries a task's messages out, typically to MQTT or up the tree.
// Publish is called from the goroutine that is inside a call into the task
// (OnMessage, OnTick, Run), synchronously: it should hand the message off
// and return quickly. The payload is a copy the Publisher may keep. An error
// makes the task's publish return -7 (unavailable).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, topic string, payload []byte) error

// Publish implements Publisher.
func (f PublisherFunc) Publish(ctx context.Context, topic string, payload []byte) error {
	return f(ctx, topic, payload)
}

// Validate reports every problem with the task configuration at once.
func (c TaskConfig) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id: empty"))
	} else if strings.ContainsRune(string(c.ID), 0) {
		errs = append(errs, errors.New("id: contains a NUL byte"))
	}
	switch c.Type {
	case "", kernel.TypeService, kernel.TypeJob:
	default:
		errs = append(errs, fmt.Errorf("type: %q is neither service nor job", c.Type))
	}
	l := c.Limits
	for _, f := range []struct {
		name     string
		negative bool
	}{
		{"memory", l.Memory < 0}, {"callTimeout", l.CallTimeout < 0}, {"kv", l.KV < 0},
		{"publishRate", l.PublishRate < 0}, {"publishSize", l.PublishSize < 0}, {"logRate", l.LogRate < 0},
	} {
		if f.negative {
			errs = append(errs, fmt.Errorf("limits.%s: negative", f.name))
		}
	}
	if l.Memory > 4*kernel.GiB {
		errs = append(errs, fmt.Errorf("limits.memory: %s is more than a 32-bit memory can hold (4GiB)", l.Memory))
	}
	for _, f := range c.Publish {
		if err := kernel.ValidateTopicFilter(f); err != nil {
			errs = append(errs, fmt.Errorf("publish %q: %w", f, err))
		}
	}
	return errors.Join(errs...)
}
