package mqttclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/canopy-fleet/canopy/kernel"
)

// Handler receives one message. It runs on the client's dispatcher
// goroutine, one message at a time in arrival order; payload is the
// handler's own copy.
type Handler func(topic string, payload []byte)

// Client is a connection to an MQTT broker. Its methods are safe for
// concurrent use.
type Client struct {
	cfg  Config
	log  *slog.Logger
	pc   paho.Client
	subs subscriptions

	queue chan delivery
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	// ready is closed when the first connection's onConnect has run, so
	// a Subscribe after Dial never races it into a second SUBSCRIBE.
	ready     chan struct{}
	readyOnce sync.Once

	received   atomic.Int64
	dropped    atomic.Int64
	reconnects atomic.Int64
	connects   atomic.Int64
}

type delivery struct {
	h       Handler
	topic   string
	payload []byte
}

// Stats are the client's counters.
type Stats struct {
	Received   int64 // messages handed to the queue
	Dropped    int64 // messages dropped because the queue was full
	Reconnects int64 // successful connections after the first
}

// ErrRefused is returned when the broker refuses a subscription (an ACL).
var ErrRefused = errors.New("refused by broker")

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("mqtt client closed")

// Dial connects to the broker in cfg.URL and returns once the broker has
// accepted the connection, or with the error (wrong credentials, refused
// connection, ctx done). Later disconnects are repaired in the background.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt client config: %w", err)
	}
	cfg = cfg.withDefaults()
	if cfg.ClientID == "" {
		cfg.ClientID = randomID()
	}
	c := &Client{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "mqttclient", "broker", cfg.URL, "client", cfg.ClientID),
		queue: make(chan delivery, cfg.QueueSize),
		done:  make(chan struct{}),
		ready: make(chan struct{}),
	}
	c.subs.m = map[string]subscription{}

	opts := paho.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(!cfg.KeepSession).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetCustomOpenConnectionFn(dial).
		SetKeepAlive(cfg.KeepAlive).
		SetMaxReconnectInterval(cfg.MaxReconnectInterval).
		SetProtocolVersion(4). // MQTT 3.1.1; without it paho retries a refused connect as 3.1
		SetOrderMatters(true).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.log.Warn("connection lost; reconnecting", "err", err)
		})
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	c.pc = paho.NewClient(opts)

	c.wg.Add(1)
	go c.dispatch()
	if err := wait(ctx, c.pc.Connect()); err != nil {
		c.pc.Disconnect(0)
		c.stopDispatch()
		return nil, fmt.Errorf("mqtt connect %s: %w", cfg.URL, err)
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		c.pc.Disconnect(0)
		c.stopDispatch()
		return nil, fmt.Errorf("mqtt connect %s: %w", cfg.URL, ctx.Err())
	}
	return c, nil
}

// onConnect runs (on its own goroutine) after every successful connection
// and makes the remembered subscriptions again.
func (c *Client) onConnect(pc paho.Client) {
	defer c.readyOnce.Do(func() { close(c.ready) })
	if c.connects.Add(1) > 1 {
		c.reconnects.Add(1)
		c.log.Info("reconnected")
	}
	for filter, s := range c.subs.all() {
		t := pc.Subscribe(filter, s.qos, c.callback(s.h))
		if !t.WaitTimeout(c.cfg.ConnectTimeout) {
			c.log.Warn("resubscribe timed out", "filter", filter)
			continue
		}
		if err := t.Error(); err != nil {
			c.log.Warn("resubscribe failed", "filter", filter, "err", err)
		}
	}
}

// callback wraps h as a paho handler that copies the message and queues it.
func (c *Client) callback(h Handler) paho.MessageHandler {
	return func(_ paho.Client, m paho.Message) {
		d := delivery{h: h, topic: m.Topic(), payload: append([]byte(nil), m.Payload()...)}
		select {
		case c.queue <- d:
			c.received.Add(1)
		case <-c.done:
		default:
			if n := c.dropped.Add(1); n&(n-1) == 0 { // log at powers of two
				c.log.Warn("handler queue full; dropping messages", "dropped", n, "queue", c.cfg.QueueSize)
			}
		}
	}
}

func (c *Client) dispatch() {
	defer c.wg.Done()
	for {
		select {
		case d := <-c.queue:
			d.h(d.topic, d.payload)
		case <-c.done:
			return
		}
	}
}

// Subscribe subscribes to filter (MQTT wildcards and "$share/group/..."
// allowed) with qos and remembers it, so it is made again after every
// reconnect. Subscribing to a filter again replaces its handler. If the
// client is disconnected at the moment, the subscription is remembered and
// made on reconnect, and Subscribe returns nil.
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte, h Handler) error {
	if err := kernel.ValidateTopicFilter(filter); err != nil {
		return fmt.Errorf("subscribe %q: %w", filter, err)
	}
	if qos > 2 {
		return fmt.Errorf("subscribe %q: qos %d out of range 0..2", filter, qos)
	}
	if h == nil {
		return fmt.Errorf("subscribe %q: nil handler", filter)
	}
	if c.isClosed() {
		return ErrClosed
	}
	c.subs.put(filter, subscription{qos: qos, h: h})
	if !c.pc.IsConnectionOpen() {
		return nil
	}
	t := c.pc.Subscribe(filter, qos, c.callback(h))
	if err := wait(ctx, t); err != nil {
		return fmt.Errorf("subscribe %q: %w", filter, err)
	}
	if st, ok := t.(*paho.SubscribeToken); ok {
		for _, code := range st.Result() {
			if code >= 0x80 {
				c.subs.remove(filter)
				return fmt.Errorf("subscribe %q: %w (code 0x%02x)", filter, ErrRefused, code)
			}
		}
	}
	return nil
}

// Unsubscribe forgets filter and unsubscribes from it.
func (c *Client) Unsubscribe(ctx context.Context, filter string) error {
	c.subs.remove(filter)
	if c.isClosed() {
		return ErrClosed
	}
	if err := wait(ctx, c.pc.Unsubscribe(filter)); err != nil {
		return fmt.Errorf("unsubscribe %q: %w", filter, err)
	}
	return nil
}

// Publish sends payload on topic and, for QoS 1 and 2, waits until the
// broker acknowledged it or ctx is done.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte, qos byte) error {
	if err := kernel.ValidateTopicName(topic); err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	if qos > 2 {
		return fmt.Errorf("publish %q: qos %d out of range 0..2", topic, qos)
	}
	if c.isClosed() {
		return ErrClosed
	}
	if err := wait(ctx, c.pc.Publish(topic, qos, false, payload)); err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	return nil
}

// IsConnected reports whether the connection is up right now.
func (c *Client) IsConnected() bool { return c.pc.IsConnectionOpen() }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Received: c.received.Load(), Dropped: c.dropped.Load(), Reconnects: c.reconnects.Load()}
}

// Close disconnects and stops the dispatcher; messages still queued are
// discarded. It is safe to call more than once.
func (c *Client) Close() {
	c.once.Do(func() {
		c.pc.Disconnect(100)
		c.stopDispatch()
	})
}

func (c *Client) stopDispatch() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
}

func (c *Client) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits for a paho token or ctx.
func wait(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "canopy-" + hex.EncodeToString(b[:])
}

// subscriptions is the remembered set, keyed by filter.
type subscriptions struct {
	mu sync.Mutex
	m  map[string]subscription
}

type subscription struct {
	qos byte
	h   Handler
}

func (s *subscriptions) put(f string, sub subscription) {
	s.mu.Lock()
	s.m[f] = sub
	s.mu.Unlock()
}

func (s *subscriptions) remove(f string) {
	s.mu.Lock()
	delete(s.m, f)
	s.mu.Unlock()
}

func (s *subscriptions) all() map[string]subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]subscription, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}
