// Package store is chatd's local database: contacts with pinned Ed25519 keys,
// the message history of both directions, the outbox of outgoing messages the
// peer has not acknowledged yet, and an append-only event log that the control
// API streams to clients.
//
// # Using it
//
// Open the store once at start-up and share the *Store; every method is safe
// for concurrent use. Close stops the background committer and closes the
// database.
//
//	st, err := store.Open(filepath.Join(dataDir, "chatd.db"), log)
//	if err != nil { ... }
//	defer st.Close()
//
// Sending: Enqueue (or EnqueueBatch) puts a message in the outbox in state
// queued, with a new 128-bit message ID (a millisecond time prefix and 80
// random bits, so that IDs are unguessable yet index cheaply). A peer session reads its work with Pending, marks what it wrote to
// the wire with MarkSent and, when the peer acknowledges, MarkDelivered.
// Messages stay pending across reconnects and restarts until they are
// delivered; PendingPeers lists the contacts that still have work at start-up.
// The state of an outgoing message only moves forward:
//
//	queued ──MarkSent──▶ sent ──MarkDelivered──▶ delivered
//	   └──────────────MarkDelivered─────────────────┘
//
// Receiving: a peer session hands each batch of received messages to
// Deliver (or Receive) and acknowledges them only after it returns. Receive de-duplicates by
// (peer, message ID), so a retried batch is harmless and every message is
// stored, evented and shown exactly once.
//
// Events: state changes that a user should see ("message", "delivered",
// "contact") are appended to the event log in the same
// transaction as the change itself (message events by SQL triggers, in the
// very statement that stores or acknowledges the message), and other parts
// append their own (for example "presence" and "key_mismatch") with
// AppendEvent. Event IDs are a cursor: Events(after) returns exactly the
// events committed after it, with the message a "message" or "delivered"
// event is about attached, and WaitEvents or EventNotify wakes a streaming
// reader when more arrive:
//
//	for cursor := st.LastEventID(); ; {
//		evs, err := st.Events(ctx, cursor, 256)
//		if err != nil { return err } // ErrEventsPruned: the reader fell too far behind
//		for _, e := range evs { send(e); cursor = e.ID }
//		if len(evs) == 0 {
//			if err := st.WaitEvents(ctx, cursor); err != nil { return err }
//		}
//	}
//
// PruneEvents bounds the log.
//
// # Durability and speed
//
// The database is SQLite in WAL mode, and every write that promises
// something is synced before its method returns (synchronous=FULL: the
// WAL is fdatasynced in the commit). So a message Enqueue stored, a batch
// Deliver stored (which the session then acknowledges) and every event a
// reader is shown survive a power loss, not only a crash of chatd. The
// sync costs a disk flush, so writes share them: all writes go through
// one writer connection, and a committer goroutine coalesces concurrent
// Enqueue calls, the batches of all sessions' Deliver calls and the
// senders' MarkDelivered into one transaction (group commit), one sync
// for them all. MarkSent promises nothing (a message not acknowledged is
// resent whatever its state says): its mark is kept in memory and shown by
// reads at once, and written, without a sync, only when the
// acknowledgement is late (see sentMarks). TouchContact is not synced
// either. SQLite's automatic checkpoint is off: a background goroutine on
// a connection of its own copies the WAL into the database, so no writer
// waits for a checkpoint inside its commit. When a session has caught up,
// Pending is answered from an in-memory copy of the outbox's newest
// undelivered messages (kept in order by the committer) instead of a
// query, and MarkDelivered finds the messages that copy holds by Seq.
//
// Schema changes are numbered SQL files under migrations/, embedded in the
// binary and applied in order at Open; a database written by a newer chatd is
// refused with ErrSchemaTooNew instead of being misread.
package store
