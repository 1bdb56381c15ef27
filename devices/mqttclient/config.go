package mqttclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultURL                  = "tcp://127.0.0.1:1883"
	DefaultConnectTimeout       = 5 * time.Second
	DefaultKeepAlive            = 30 * time.Second
	DefaultMaxReconnectInterval = 2 * time.Second
	DefaultQueueSize            = 1 << 16
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// URL is the broker: tcp:// or mqtt:// for plain TCP, tls:// or ssl://
	// (also mqtts://) for TLS.
	URL string
	// ClientID identifies the session on the broker; empty picks a random
	// one (a broker drops an older connection with the same id).
	ClientID string
	Username string
	Password string
	// TLS configures tls:// URLs; nil uses the system roots.
	TLS *tls.Config
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
	// KeepSession asks the broker to keep the session (subscriptions and
	// queued QoS 1 messages) across disconnects; the default is a clean
	// session. Subscriptions are made again after reconnect either way.
	KeepSession bool
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keep-alive period.
	KeepAlive time.Duration
	// MaxReconnectInterval caps the back-off between reconnect attempts.
	MaxReconnectInterval time.Duration
	// QueueSize bounds the messages waiting for handlers. When it is full,
	// new messages are dropped and counted (Stats.Dropped) rather than
	// blocking paho, which would stall acknowledgements for everything.
	QueueSize int
}

// Validate reports every problem in the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("url %q: %w", c.URL, err))
		case !knownScheme(u.Scheme):
			errs = append(errs, fmt.Errorf("url %q: scheme must be tcp, mqtt, tls, ssl or mqtts", c.URL))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("url %q: missing host:port", c.URL))
		}
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, errors.New("connectTimeout: must not be negative"))
	}
	if c.KeepAlive < 0 {
		errs = append(errs, errors.New("keepAlive: must not be negative"))
	}
	if c.MaxReconnectInterval < 0 {
		errs = append(errs, errors.New("maxReconnectInterval: must not be negative"))
	}
	if c.QueueSize < 0 {
		errs = append(errs, errors.New("queueSize: must not be negative"))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("password given without username"))
	}
	return errors.Join(errs...)
}

func knownScheme(s string) bool {
	switch s {
	case "tcp", "mqtt", "tls", "ssl", "mqtts":
		return true
	}
	return false
}

func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.MaxReconnectInterval == 0 {
		c.MaxReconnectInterval = DefaultMaxReconnectInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
