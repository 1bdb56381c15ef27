package kernel

import "context"

// Transport is what the kernel needs from the network between nodes. The
// mesh implements it over the tree of QUIC links; its in-memory network
// implements the same for tests and simulation. Methods are safe for
// concurrent use from any goroutine.
type Transport interface {
	// Send delivers a one-way message of kind to node to through the tree
	// (down to children, up to the controllers: to "" means the root).
	// It returns once the next hop has it; nil does not mean it arrived.
	Send(ctx context.Context, to NodeName, kind string, body []byte) error
	// Request delivers a message and waits for the handler's reply or for
	// ctx; the deadline travels with the message.
	Request(ctx context.Context, to NodeName, kind string, body []byte) ([]byte, error)
	// Handle registers the handler for messages of kind that arrive at this
	// node. Handlers run on their own goroutine per message.
	Handle(kind string, h MessageHandler)
	// FetchBlob makes the content-addressed blob ("sha256:HEX") available
	// on this node, from the nearest cache up the tree, verified, and
	// returns the path of the local file.
	FetchBlob(ctx context.Context, digest string) (string, error)
}

// MessageHandler answers a message from node from. The returned error is
// sent back to a requester as a one-line message.
type MessageHandler func(ctx context.Context, from NodeName, body []byte) ([]byte, error)

// OutboxMessage is one message a node must send up the tree even across
// lost links and restarts.
type OutboxMessage struct {
	// ID increases strictly with every message appended to one outbox
	// epoch (see Outbox.Epoch); the receiver delivers in ID order and drops
	// IDs of that epoch it has delivered.
	ID    uint64
	Topic string
	Data  []byte
}

// Outbox is a node's durable queue of messages to send up (the devices
// part implements it on badger). The mesh is its only reader: it peeks
// the oldest messages, delivers them, and acknowledges them once the
// receiver has them.
type Outbox interface {
	// Epoch names this outbox's numbering of IDs: a random value, not 0,
	// chosen when the outbox's store was first created and kept with it,
	// so it is the same for the store's whole life (restarts included) and
	// never changes while the value is in use. A store created afresh (a
	// wiped data directory, a reinstalled device under the same node name)
	// has a new epoch and numbers its IDs from the start again; the
	// receiver keeps what it delivered per (node, epoch), so the new
	// epoch's messages are not taken for repeats of the old one's.
	Epoch() uint64
	// Peek returns up to max unacknowledged messages, oldest first, without
	// removing them. It returns an empty slice when there are none.
	Peek(ctx context.Context, max int) ([]OutboxMessage, error)
	// Ack removes delivered messages by ID. Unknown IDs are ignored.
	Ack(ctx context.Context, ids ...uint64) error
}
