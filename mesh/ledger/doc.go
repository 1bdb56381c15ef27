// Package ledger keeps a root's outbox ledger (mesh.OutboxLedger) on disk,
// so a restarted controller still knows, per source node, how far that
// source's outbox was delivered (the epoch of the outbox and the next ID
// of that epoch it expects), and drops what the source sends again below
// it. A source whose outbox has another epoch (created afresh) replaces
// its record.
//
// The ledger is a directory holding one small file per source, named
// SOURCE.ledger (see codec.go for its bytes, checksummed), and a LOCK
// file that one process at a time holds. Advance writes the new record to
// a temporary file, syncs it, renames it over the old one and syncs the
// directory, so a crash at any moment (SIGKILL or power loss) leaves the
// old record or the new one, whole. A temporary file left by a crash was
// never renamed, so it was never part of the ledger: Open removes it.
//
// Open refuses a directory it cannot read in full: a damaged record, an
// unknown file or a directory another process holds is a one-line error
// naming the file, never a reason to start afresh. Removing a damaged
// record by hand is safe: the root then forgets that source, and at worst
// delivers once more the messages the source still holds unacknowledged
// (its last batch before the crash); nothing is lost.
package ledger
