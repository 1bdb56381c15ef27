package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/devices/mqttclient"
)

// connectMQTT connects to the broker at rawURL. With no URL it uses the
// broker already listening on broker.DefaultAddr, or starts the embedded one
// there (returned, else nil). The returned stop function closes the client
// and any broker it started.
func connectMQTT(ctx context.Context, rawURL string, log *slog.Logger) (*mqttclient.Client, *broker.Broker, func(), error) {
	var emb *broker.Broker
	if rawURL == "" {
		rawURL = "tcp://" + broker.DefaultAddr
		if !listening(broker.DefaultAddr) {
			b, err := broker.New(broker.Config{Addr: broker.DefaultAddr, Logger: quieter(log)})
			if err != nil {
				return nil, nil, nil, fmt.Errorf("embedded broker: %w", err)
			}
			if err := b.Start(ctx); err != nil {
				return nil, nil, nil, fmt.Errorf("embedded broker: %w", err)
			}
			emb = b
			log.Info("started the embedded MQTT broker", "addr", b.Addr())
		} else {
			log.Info("using the MQTT broker already listening", "addr", broker.DefaultAddr)
		}
	} else if u, err := url.Parse(rawURL); err != nil || u.Host == "" {
		return nil, nil, nil, usageError{fmt.Errorf("--mqtt %q: want a URL such as tcp://127.0.0.1:1883", rawURL)}
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := mqttclient.Dial(dctx, mqttclient.Config{URL: rawURL, Logger: log})
	if err != nil {
		if emb != nil {
			emb.Close()
		}
		return nil, nil, nil, fmt.Errorf("connect to MQTT broker %s: %w", rawURL, err)
	}
	stop := func() {
		c.Close()
		if emb != nil {
			emb.Close()
		}
	}
	return c, emb, stop, nil
}

// listening reports whether something accepts TCP connections at addr.
func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// errPublishBacklog is what a task's publish meets when the broker cannot keep
// up: the task sees -7 (unavailable) and may retry later.
var errPublishBacklog = errors.New("publish backlog full")

// asyncPublisher hands a task's publishes to the MQTT client on its own
// goroutine, so a call into the task never waits for a broker round trip
// (which would count against the task's call timeout).
type asyncPublisher struct {
	ch     chan pubMsg
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	// flush bounds Close: what is not sent by then is dropped (with the
	// broker unreachable each QoS 1 publish would wait its whole timeout).
	flush time.Duration
	// maxBytes bounds the payload bytes waiting: the backlog's length alone
	// would let a task hold 4096 payloads of 256KiB (1GiB) while the broker
	// is away.
	maxBytes int64
	queued   atomic.Int64
}

// maxBacklogBytes is the default bound of asyncPublisher.maxBytes.
const maxBacklogBytes = 32 << 20

type pubMsg struct {
	topic   string
	payload []byte
}

// publishClient is what asyncPublisher needs of an MQTT client.
type publishClient interface {
	Publish(ctx context.Context, topic string, payload []byte, qos byte) error
}

// publishTimeout bounds one publish while the task runs.
const publishTimeout = 5 * time.Second

func newAsyncPublisher(ctx context.Context, c publishClient, qos byte, backlog int, log *slog.Logger) *asyncPublisher {
	ctx, cancel := context.WithCancel(ctx)
	p := &asyncPublisher{ch: make(chan pubMsg, backlog), done: make(chan struct{}), ctx: ctx, cancel: cancel,
		log: log, flush: publishTimeout, maxBytes: maxBacklogBytes}
	go func() {
		defer close(p.done)
		dropped := 0
		for m := range p.ch {
			if ctx.Err() != nil {
				dropped++
				p.queued.Add(-int64(len(m.payload)))
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, publishTimeout)
			if err := c.Publish(pctx, m.topic, m.payload, qos); err != nil {
				log.Warn("publish failed", "topic", m.topic, "err", err)
			}
			cancel()
			p.queued.Add(-int64(len(m.payload)))
		}
		if dropped > 0 {
			log.Warn("publishes dropped at exit: the broker did not take them in time", "dropped", dropped)
		}
	}()
	return p
}

// Publish implements wasmhost.Publisher.
func (p *asyncPublisher) Publish(_ context.Context, topic string, payload []byte) error {
	n := int64(len(payload))
	if p.queued.Add(n) > p.maxBytes && n > 0 {
		p.queued.Add(-n)
		return errPublishBacklog
	}
	select {
	case p.ch <- pubMsg{topic, payload}:
		return nil
	default:
		p.queued.Add(-n)
		return errPublishBacklog
	}
}

// Close sends what is queued, for at most p.flush, drops the rest and
// returns once the sending goroutine has ended. No Publish may follow.
func (p *asyncPublisher) Close() {
	close(p.ch)
	t := time.NewTimer(p.flush)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.cancel()
		<-p.done
	}
	p.cancel()
}

// quieter passes on only warnings and errors: the embedded broker's info lines
// are noise to someone running one task.
func quieter(log *slog.Logger) *slog.Logger {
	return slog.New(levelFloor{log.Handler(), slog.LevelWarn})
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(as), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
