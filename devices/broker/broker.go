package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is a running embedded MQTT broker. Create it with New, then Start.
type Broker struct {
	cfg   Config
	log   *slog.Logger
	srv   *mqtt.Server
	auth  *authHook
	flood *floodHook
	tap   *tapHook
	tcp   *gatedListener

	mu      sync.Mutex
	started bool
	closed  bool
	done    chan struct{}
}

// Stats are the broker's counters.
type Stats struct {
	Clients          int64 // connected now
	MessagesReceived int64
	MessagesSent     int64
	MessagesDropped  int64 // dropped for slow subscribers
	DeniedConnects   int64 // wrong credentials
	DeniedPublishes  int64 // ACL
	DeniedSubscribes int64 // ACL
	FloodDisconnects int64 // clients over MaxPublishRate
}

// New validates cfg and prepares a broker; it does not listen yet.
func New(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "broker")

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(cfg.MaxPacketSize)
	if cfg.MaxClients > 0 {
		caps.MaximumClients = int64(cfg.MaxClients)
	}
	if cfg.MaxPendingWrites > 0 {
		caps.MaximumClientWritesPending = int32(cfg.MaxPendingWrites)
	}
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 slog.New(closedConnFilter{log.Handler()}),
		InlineClient:           true,
		SysTopicResendInterval: 60,
	})
	auth := newAuthHook(cfg.Users)
	if err := srv.AddHook(auth, nil); err != nil {
		return nil, fmt.Errorf("broker auth hook: %w", err)
	}
	tap := &tapHook{}
	if err := srv.AddHook(tap, nil); err != nil {
		return nil, fmt.Errorf("broker tap hook: %w", err)
	}
	var flood *floodHook
	if cfg.MaxPublishRate > 0 {
		flood = newFloodHook(cfg.MaxPublishRate, cfg.Now, log.Warn)
		if err := srv.AddHook(flood, nil); err != nil {
			return nil, fmt.Errorf("broker flood hook: %w", err)
		}
	}
	return &Broker{
		cfg:   cfg,
		log:   log,
		srv:   srv,
		auth:  auth,
		flood: flood,
		tap:   tap,
		tcp:   &gatedListener{TCP: listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr, TLSConfig: cfg.TLS})},
		done:  make(chan struct{}),
	}, nil
}

// Start listens on the configured address and serves clients in the
// background. When it returns nil the listener is bound, so Addr is final.
// Cancelling ctx later closes the broker, as Close does.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return errors.New("broker: start after close")
	case b.started:
		return errors.New("broker: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("broker start: %w", err)
	}
	if err := b.srv.AddListener(b.tcp); err != nil {
		return fmt.Errorf("broker listen on %s: %w", b.cfg.Addr, err)
	}
	if err := b.srv.Serve(); err != nil {
		b.tcp.Close(func(string) {})
		return fmt.Errorf("broker serve: %w", err)
	}
	b.started = true
	if raiseGC(b.cfg.GCPercent) {
		b.log.Info("garbage collector target raised while the broker runs", "gogc", b.cfg.GCPercent)
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = b.Close()
		case <-b.done:
		}
	}()
	b.log.Info("broker listening", "addr", b.Addr(), "tls", b.cfg.TLS != nil, "auth", len(b.cfg.Users) > 0)
	return nil
}

// Addr is the address the broker listens on: after Start, the bound address
// (so a ":0" port is resolved); before, the configured one.
func (b *Broker) Addr() string { return b.tcp.Address() }

// Close disconnects every client and stops listening. It is safe to call
// more than once and from any goroutine.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.done)
	if !b.started {
		return nil
	}
	b.tcp.shut()
	err := b.srv.Close()
	releaseGC()
	return err
}

// Publish injects a message as the broker itself (no ACL applies), e.g. for
// a task's publish when the runtime lives in the same process.
func (b *Broker) Publish(topic string, payload []byte, qos byte) error {
	if err := b.srv.Publish(topic, payload, false, qos); err != nil {
		return fmt.Errorf("broker publish %q: %w", topic, err)
	}
	return nil
}

// Subscribe registers an in-process subscription; handler runs on the
// publishing client's goroutine, so it must not block (hand off, e.g. to a
// route.Router). payload is the message's own buffer, never reused by the
// broker, so it may be kept without copying, but it is shared with other
// in-process subscribers and must not be modified. id distinguishes several
// handlers on one filter.
func (b *Broker) Subscribe(filter string, id int, handler func(topic string, payload []byte)) error {
	err := b.srv.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		handler(pk.TopicName, pk.Payload)
	})
	if err != nil {
		return fmt.Errorf("broker subscribe %q: %w", filter, err)
	}
	return nil
}

// Unsubscribe removes an in-process subscription made with Subscribe.
func (b *Broker) Unsubscribe(filter string, id int) error {
	if err := b.srv.Unsubscribe(filter, id); err != nil {
		return fmt.Errorf("broker unsubscribe %q: %w", filter, err)
	}
	return nil
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	info := b.srv.Info.Clone()
	var kicks int64
	if b.flood != nil {
		kicks = b.flood.kicks.Load()
	}
	return Stats{
		FloodDisconnects: kicks,
		Clients:          info.ClientsConnected,
		MessagesReceived: info.MessagesReceived,
		MessagesSent:     info.MessagesSent,
		MessagesDropped:  info.MessagesDropped,
		DeniedConnects:   b.auth.deniedConnects.Load(),
		DeniedPublishes:  b.auth.deniedPublishes.Load(),
		DeniedSubscribes: b.auth.deniedSubs.Load(),
	}
}
