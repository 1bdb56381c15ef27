package mesh

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
	"github.com/canopy-fleet/canopy/mesh/clock"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Parent is an address to link to. Name, when set, is the node name the
// parent's certificate must carry.
type Parent struct {
	Addr string
	Name kernel.NodeName
}

// Config configures a Node. Zero values mean the defaults shown.
type Config struct {
	// Name and Role of this node; they must match its certificate.
	Name kernel.NodeName
	Role kernel.Role
	// Network carries the links. Required.
	Network link.Network
	// Listen is the address children dial; empty means no children.
	Listen string
	// Parents are tried in order, the first as primary; empty means this
	// node is the root of the tree (a controller).
	Parents []Parent
	// Alternates are parents learned earlier (saved from OnAlternates),
	// dialed after Parents until the parent sends its own list.
	Alternates []Parent
	// OnAlternates receives the alternate parents whenever the parent
	// sends a new list (alternates.go), e.g. to save them; it must not
	// block for long.
	OnAlternates func([]Parent)
	// Advertise is the address given to the parent for siblings and
	// failing-over children to dial: HOST:PORT, or HOST with the bound
	// port. Empty: the bound address, unless its host is unspecified.
	Advertise string

	Clock  clock.Clock  // nil: the real clock
	Rand   *rand.Rand   // nil: seeded from the runtime (backoff jitter)
	Logger *slog.Logger // nil: discard

	// HeartbeatInterval is how often a child beats to its parent (500ms)
	// on a link whose transport cannot tell that the peer is alive. On
	// one that can (link.Liveness with a keep-alive at most a third of
	// LostAfter: quicnet), the transport's keep-alive packets are the
	// heartbeat: both ends check them four times per HeartbeatInterval,
	// and no stream is opened per beat.
	HeartbeatInterval time.Duration
	// LostAfter is how long without a heartbeat before a parent declares
	// a child lost, and a child its parent (2s); on a link with transport
	// liveness, how long without a packet from the peer. It must be at
	// least three heartbeat intervals so normal jitter never triggers it.
	LostAfter time.Duration
	// AppHeartbeatInterval is how often a child still sends a heartbeat
	// message on a link with transport liveness (20 heartbeat intervals:
	// 10s; the first goes at once and makes the child ready). Keep-alives
	// prove the peer's QUIC stack alive, the heartbeat its node: a peer
	// that answers or sends no heartbeat for three intervals is lost,
	// however many packets arrive. The child tells its parent the
	// interval in its hello.
	AppHeartbeatInterval time.Duration
	// ReportInterval is how often a node reports its latencies up (5s).
	ReportInterval time.Duration
	// ProbeInterval is how often a node measures the round trip to its
	// alternate parents and, when it listens, to its listening siblings,
	// with a connection it closes at once (1m); the results join its
	// latency reports. Negative disables probing.
	ProbeInterval time.Duration
	// RequestTimeout bounds a request whose context has no deadline (5s).
	RequestTimeout time.Duration
	// DialTimeout bounds dialing a parent and the hello (5s); a parent that
	// does not answer in time is skipped for the next one.
	DialTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the reconnect backoff (50ms, 2s).
	ReconnectMin, ReconnectMax time.Duration
	// MaxFrame is the largest frame accepted (1 MiB).
	MaxFrame int

	// HelloTimeout is how long a new connection has to say hello before it
	// is closed (1s, half the default LostAfter). A child says hello as
	// soon as its handshake is done; the short wait bounds what a flood of
	// silent connections can hold.
	HelloTimeout time.Duration
	// MaxPendingPerPeer and MaxPending cap the accepted connections that
	// have not said hello yet, per certificate name (4) and in all (256).
	// Connections beyond either cap are closed at once, so one peer (a
	// stolen certificate, a buggy agent) cannot flood a parent with
	// connections.
	MaxPendingPerPeer, MaxPending int
	// MaxBlobServesPerLink caps the blob downloads one child may have
	// served at once (4). More wait up to RequestTimeout for a slot and are
	// then refused as busy; the fetcher retries with backoff.
	MaxBlobServesPerLink int
	// BlobStallTimeout cuts a blob download when the child has read
	// nothing for that long (10s). A slow reader that makes progress is
	// never cut: every write that moves resets it.
	BlobStallTimeout time.Duration

	// Blobs is where fetched and served blobs live; nil disables blobs.
	Blobs *blobstore.Store
	// Outbox, when set, is delivered to the root in order.
	Outbox kernel.Outbox
	// OutboxPoll is how often an empty outbox is checked again (200ms).
	OutboxPoll time.Duration
	// OnOutbox receives outbox messages at the root, in order per source,
	// each once. nil publishes them on the fleet topic at QoS 1.
	OnOutbox func(from kernel.NodeName, m kernel.OutboxMessage) error
	// OutboxLedger is the root's record of what each source's outbox has
	// delivered (see OutboxLedger); nil keeps it in memory, so a restarted
	// root repeats each source's unacknowledged batch.
	OutboxLedger OutboxLedger
	// Identity, when set, is renewed through the root when less than a
	// third of its lifetime remains; OnRenewed receives the new identity
	// (to save it and hand it to the network, e.g. quicnet.SetIdentity).
	Identity  *identity.Node
	OnRenewed func(*identity.Node)
	// Revocations, when set on a non-root node, is refreshed from the root
	// every RenewCheck; children whose certificates appear on it are
	// disconnected. Give its IsRevoked to the network's Revoked check.
	Revocations *identity.Revocations
	// RenewCheck is how often the certificate's expiry (and the revocation
	// list) is checked (1m).
	RenewCheck time.Duration
	// OnEvent receives link events; it must not block.
	OnEvent func(Event)
}

// Validate reports every problem with the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if !kernel.ValidName(string(c.Name)) {
		errs = append(errs, fmt.Errorf("mesh: Name %q is not a valid node name", c.Name))
	}
	switch c.Role {
	case kernel.RoleController, kernel.RoleGateway, kernel.RoleLeaf:
	default:
		errs = append(errs, fmt.Errorf("mesh: Role %q: want controller, gateway or leaf", c.Role))
	}
	if c.Network == nil {
		errs = append(errs, errors.New("mesh: Network is required"))
	}
	for i, p := range c.Parents {
		if p.Addr == "" {
			errs = append(errs, fmt.Errorf("mesh: Parents[%d].Addr is empty", i))
		}
	}
	for i, p := range c.Alternates {
		if p.Addr == "" {
			errs = append(errs, fmt.Errorf("mesh: Alternates[%d].Addr is empty", i))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"HeartbeatInterval", c.HeartbeatInterval}, {"LostAfter", c.LostAfter}, {"ReportInterval", c.ReportInterval},
		{"RequestTimeout", c.RequestTimeout}, {"RenewCheck", c.RenewCheck}, {"DialTimeout", c.DialTimeout}, {"ReconnectMin", c.ReconnectMin}, {"ReconnectMax", c.ReconnectMax}, {"OutboxPoll", c.OutboxPoll},
		{"HelloTimeout", c.HelloTimeout}, {"BlobStallTimeout", c.BlobStallTimeout}, {"AppHeartbeatInterval", c.AppHeartbeatInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("mesh: %s must not be negative", d.name))
		}
	}
	w := c.withDefaults()
	if w.LostAfter < 3*w.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("mesh: LostAfter %v must be at least 3 heartbeat intervals (%v)", w.LostAfter, w.HeartbeatInterval))
	}
	for _, v := range []struct {
		name string
		v    int
	}{{"MaxFrame", c.MaxFrame}, {"MaxPendingPerPeer", c.MaxPendingPerPeer}, {"MaxPending", c.MaxPending}, {"MaxBlobServesPerLink", c.MaxBlobServesPerLink}} {
		if v.v < 0 {
			errs = append(errs, fmt.Errorf("mesh: %s must not be negative", v.name))
		}
	}
	if w.MaxPending < w.MaxPendingPerPeer {
		errs = append(errs, fmt.Errorf("mesh: MaxPending %d must be at least MaxPendingPerPeer %d", w.MaxPending, w.MaxPendingPerPeer))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatInterval, 500*time.Millisecond)
	def(&c.LostAfter, 2*time.Second)
	def(&c.AppHeartbeatInterval, 20*c.HeartbeatInterval)
	def(&c.ReportInterval, 5*time.Second)
	def(&c.ProbeInterval, time.Minute)
	def(&c.RequestTimeout, 5*time.Second)
	def(&c.DialTimeout, 5*time.Second)
	def(&c.ReconnectMin, 50*time.Millisecond)
	def(&c.ReconnectMax, 2*time.Second)
	def(&c.OutboxPoll, 200*time.Millisecond)
	def(&c.RenewCheck, time.Minute)
	def(&c.HelloTimeout, time.Second)
	def(&c.BlobStallTimeout, 10*time.Second)
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.MaxFrame, 1<<20)
	defInt(&c.MaxPendingPerPeer, 4)
	defInt(&c.MaxPending, 256)
	defInt(&c.MaxBlobServesPerLink, 4)
	c.Clock = clock.Or(c.Clock)
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OutboxLedger == nil {
		c.OutboxLedger = NewMemOutboxLedger()
	}
	return c
}

// EventKind names what happened to a link.
type EventKind string

// Event kinds.
const (
	EventParentUp   EventKind = "parent-up"
	EventParentLost EventKind = "parent-lost"
	EventChildUp    EventKind = "child-up"
	EventChildReady EventKind = "child-ready" // first heartbeat received
	EventChildLost  EventKind = "child-lost"
)

// Event is a change of a link.
type Event struct {
	Kind   EventKind
	Peer   kernel.NodeName
	Reason string
	At     time.Time
}
