// Package outbox is a node's durable queue of messages bound upward (task
// publishes for the cloud, status reports), stored in badger so it survives
// crashes and long disconnections.
//
// # Guarantees
//
// Durable means fsync'd before Append returns: Append hands its messages to
// a single committer goroutine, which groups the appends waiting at that
// moment into one badger transaction written with SyncWrites (group commit),
// and answers every caller in the group only after the fsync. A message whose
// Append returned nil survives SIGKILL and power loss (as far as the disk
// honours fsync). A message whose Append did not return may or may not be
// there after a crash.
//
// Messages are kept in append order per destination; Next returns the
// oldest pending messages of a destination, and they stay until Ack removes
// them, so delivery is at least once. Message ids dedupe on the way in:
// appending an id that is pending, or was acknowledged within DedupeWindow,
// is a no-op (a task retrying a publish after a crash does not send it
// twice). On the way out every message carries its sequence number, which
// increases strictly for the outbox's whole life (restarts included), so a
// receiver drops redeliveries by remembering the highest number it has
// delivered (see Kernel, the view the mesh reads).
//
// # Epoch
//
// Sequence numbers start again at 0 in a new directory, so a device whose
// data directory was wiped and that rejoins under the same node name would
// look, to a receiver going by numbers alone, like one resending what it
// already delivered. Each outbox therefore has an epoch: a random 64-bit
// value (never 0) created with the directory, stored in it next to the
// messages and read back by Open. The same directory keeps its epoch
// across restarts; a wiped one gets a new one, and the receiver starts
// that source afresh (see Outbox.Epoch and kernel.Outbox).
//
// # Drop policy
//
// The outbox is bounded by MaxBytes of pending messages (id + destination +
// payload). When an append would exceed it, the oldest pending messages —
// oldest first across all destinations — are dropped to make room and
// counted in Stats.Dropped; a single message larger than MaxBytes is refused
// with ErrTooLarge. When the filesystem holding the outbox has less than
// MinFreeDisk free, Append fails with ErrDiskFull and the oldest tenth of the
// pending bytes is dropped (counted too); the space returns as badger
// compacts.
//
// # Damage
//
// An outbox directory badger cannot open (corrupted manifest or tables, or a
// directory that is not an outbox) is never repaired or wiped: Open returns
// an error saying so, and the operator decides.
package outbox
