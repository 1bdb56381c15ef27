package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// DefaultAddr is where the broker listens when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:1883"

// DefaultMaxPacketSize bounds one MQTT packet (topic, properties and payload)
// when Config.MaxPacketSize is zero: 1 MiB, far above any sensor reading and
// small enough that a misbehaving client cannot make the broker buffer much.
const DefaultMaxPacketSize = 1 << 20

// Config configures a Broker. The zero value is a usable anonymous broker on
// DefaultAddr.
type Config struct {
	// Addr is the TCP address to listen on, e.g. "127.0.0.1:1883" or
	// "127.0.0.1:0" for any free port (see Broker.Addr).
	Addr string
	// Logger receives the broker's logs; nil discards them.
	Logger *slog.Logger
	// Users, when non-empty, switches authentication on: only these
	// username/password pairs may connect, and each may only use its own
	// topics plus the filters its entry grants. Empty means anonymous access
	// to everything.
	Users []User
	// TLS, when set, makes the listener speak TLS (tls:// / ssl:// URLs).
	TLS *tls.Config
	// MaxPacketSize is the largest packet accepted, in bytes; larger ones
	// disconnect the client. Zero means DefaultMaxPacketSize.
	MaxPacketSize int
	// MaxClients bounds concurrent connections; zero means no bound.
	MaxClients int
	// MaxPublishRate bounds each client's publishes per second (with a
	// burst of one second's worth); a client that floods the broker beyond
	// it is disconnected and counted in Stats.FloodDisconnects. Zero means
	// no limit.
	MaxPublishRate float64
	// Now is the clock for rate limiting; nil means time.Now.
	Now func() time.Time
	// MaxPendingWrites bounds the messages queued for one slow subscriber
	// before the broker drops messages for it; zero means mochi's default
	// (8192).
	MaxPendingWrites int
	// GCPercent is the garbage collector target (as GOGC) the process gets
	// while the broker runs (see DefaultGCPercent for why); zero means
	// DefaultGCPercent, negative leaves the collector alone. GOGC in the
	// environment always wins, and a higher target is kept.
	GCPercent int
}

// User is one device's credentials and the topics it may use.
type User struct {
	Username string
	Password string
	// Publish lists extra topic filters this user may publish to, beyond
	// "devices/<username>/#".
	Publish []string
	// Subscribe lists extra topic filters this user may subscribe to (a
	// subscription must lie entirely inside one of them), beyond
	// "devices/<username>/#".
	Subscribe []string
}

// OwnTopics is the filter every authenticated user may publish and
// subscribe on: the device's own subtree.
func OwnTopics(username string) string { return "devices/" + username + "/#" }

// Validate reports every problem in the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
		}
	}
	if c.MaxPacketSize < 0 {
		errs = append(errs, fmt.Errorf("maxPacketSize %d: must not be negative", c.MaxPacketSize))
	}
	if c.MaxClients < 0 {
		errs = append(errs, fmt.Errorf("maxClients %d: must not be negative", c.MaxClients))
	}
	if c.MaxPublishRate < 0 {
		errs = append(errs, fmt.Errorf("maxPublishRate %v: must not be negative", c.MaxPublishRate))
	}
	if c.MaxPendingWrites < 0 {
		errs = append(errs, fmt.Errorf("maxPendingWrites %d: must not be negative", c.MaxPendingWrites))
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		switch {
		case u.Username == "":
			errs = append(errs, fmt.Errorf("users[%d]: empty username", i))
		case seen[u.Username]:
			errs = append(errs, fmt.Errorf("users[%d]: duplicate username %q", i, u.Username))
		}
		seen[u.Username] = true
		if err := kernel.ValidateTopicName(u.Username); err != nil || containsSlash(u.Username) {
			errs = append(errs, fmt.Errorf("users[%d]: username %q must be one topic level without wildcards", i, u.Username))
		}
		if u.Password == "" {
			errs = append(errs, fmt.Errorf("users[%d] %q: empty password", i, u.Username))
		}
		for _, f := range u.Publish {
			if err := kernel.ValidateTopicFilter(f); err != nil {
				errs = append(errs, fmt.Errorf("users[%d] %q: publish filter %q: %w", i, u.Username, f, err))
			}
		}
		for _, f := range u.Subscribe {
			if err := kernel.ValidateTopicFilter(f); err != nil {
				errs = append(errs, fmt.Errorf("users[%d] %q: subscribe filter %q: %w", i, u.Username, f, err))
			}
		}
	}
	return errors.Join(errs...)
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.GCPercent == 0 {
		c.GCPercent = DefaultGCPercent
	}
	return c
}
