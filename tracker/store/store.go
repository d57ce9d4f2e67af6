// Package store defines how the tracker keeps user records: the Record type,
// the Store interface every backend implements, and the sentinel errors
// callers branch on.
//
// Two backends implement it: sqlitestore (one tracker process, the default)
// and pgstore (several stateless tracker processes sharing one PostgreSQL
// database). storeopen.Open picks one from a DSN. Both pass the conformance
// suite in storetest.
//
// The store does not verify signatures; the server does that before calling
// it. What the store guarantees is that ownership and replay rules hold
// atomically, even when several processes write at once:
//
//   - Create is first come, first served. A deleted name keeps a tombstone
//     (name, key, seq), and every key the name ever had stays in its key
//     history with the highest seq it reached, so no replayed old
//     registration (not even one by a key rotated away before the deletion)
//     can bring a deleted record back; a key the name never had may take it.
//   - Update and Delete succeed only when signerKey equals the stored key and
//     the new seq is greater than the stored one.
//
// Both backends also implement Watcher, which tells a cache in front of
// the store (the server's) which records changed, including writes by
// other processes on the same database, and Scanner, which lists the
// records to warm such a cache.
//
// Errors wrap the operation and the name; test them with errors.Is:
//
//	err := st.Update(ctx, rec, signer)
//	switch {
//	case errors.Is(err, store.ErrStaleSeq): // replay or reordering: 409
//	case errors.Is(err, store.ErrKeyMismatch): // not the owner: 403
//	case errors.Is(err, store.ErrNotFound): // 404
//	}
package store

import (
	"context"
	"errors"
	"time"
)

// Record is one user's registration as the tracker stores and returns it.
type Record struct {
	Name      string
	PublicKey []byte    // 32-byte Ed25519 key
	Addrs     []string  // "host:port" strings, order kept
	Seq       uint64    // at most math.MaxInt64 (SQL integers are signed)
	Expires   time.Time // second precision; stored as unix seconds, returned in UTC
	Signature []byte    // 64 bytes, opaque to the store
}

// Sentinel errors. Store methods wrap them with the operation and name.
var (
	ErrNotFound    = errors.New("store: no such user") // absent or deleted
	ErrExists      = errors.New("store: name already registered")
	ErrKeyMismatch = errors.New("store: key does not match the registered key")
	ErrStaleSeq    = errors.New("store: seq is not greater than the stored seq")
	// ErrInvalidRecord means the store cannot hold the record faithfully
	// (seq above math.MaxInt64, an address that is not valid UTF-8). The
	// server validates records first, so seeing it means a server bug or a
	// hostile request that slipped through: answer 400.
	ErrInvalidRecord = errors.New("store: record cannot be stored")
)

// Store keeps user records. Implementations are safe for concurrent use, and
// each method is one atomic step even across processes sharing a database.
type Store interface {
	// Create registers rec.Name. ErrExists if a live record holds the name.
	// If rec.PublicKey ever held the name (the tombstone's key or any key
	// rotated away before), rec.Seq must be greater than the highest seq it
	// reached (ErrStaleSeq), so a replayed old registration cannot resurrect
	// a deleted record; a key the name never had may take it. The history
	// of a key lasts until its latest record would have expired.
	Create(ctx context.Context, rec Record) error
	// Get returns the live record for name (expired records ARE returned;
	// the caller decides). ErrNotFound if none.
	Get(ctx context.Context, name string) (Record, error)
	// Update replaces the live record rec.Name atomically, only if its stored
	// key equals signerKey (ErrKeyMismatch) and the stored seq < rec.Seq
	// (ErrStaleSeq); ErrNotFound if none. For key rotation signerKey is the
	// old key and rec.PublicKey the new one.
	Update(ctx context.Context, rec Record, signerKey []byte) error
	// Delete turns the live record into a tombstone (keeping name, key and
	// the given seq), same conditions as Update. The tombstone keeps the
	// record's Expires, so PurgeExpired frees the name once the deleted
	// record would have expired anyway.
	Delete(ctx context.Context, name string, signerKey []byte, seq uint64) error
	// Count returns the number of live (non-deleted) records, for metrics.
	Count(ctx context.Context) (int64, error)
	// PurgeExpired removes live records and tombstones whose Expires is
	// before `before`, freeing names, and key history past its expiry.
	// Returns how many records and tombstones.
	PurgeExpired(ctx context.Context, before time.Time) (int64, error)
	// Close releases the store's connections. Safe to call twice.
	Close() error
}

// Invalidator learns which records changed, so that a cache in front of a
// store can drop them.
type Invalidator interface {
	// Invalidate says the record for name may have changed. For the
	// store's own writes (PurgeExpired's too) it is called after the write
	// commits (or fails, when it might have) and before the write returns.
	Invalidate(name string)
	// InvalidateAll says any record may have changed: reports of other
	// processes' writes may have been lost.
	InvalidateAll()
}

// Refresher is an Invalidator that can keep a record the store has just
// written instead of dropping it, so that the next read of it costs no
// store read.
type Refresher interface {
	Invalidator
	// Refresh says rec is what the store now holds for rec.Name. The store
	// calls it instead of Invalidate after a Create or Update it committed,
	// in commit order, and only when no report of another process's write
	// arrived while the write was in flight (which might be newer); then
	// it calls Invalidate instead.
	Refresh(rec Record)
}

// Watcher is a Store that reports changes to its records.
type Watcher interface {
	Store
	// Watch reports every change from now on to inv, until the store is
	// closed. If inv is a Refresher, the store's own successful writes
	// are reported with the record written.
	Watch(inv Invalidator)
	// Lag bounds how late the reports of other processes' writes are:
	// every change committed more than Lag() ago has been reported. It
	// grows while the store cannot tell (a lost connection), so a cache
	// that answers only while Lag is small never serves a record older
	// than that. Writes through this Store are reported before they
	// return, whatever Lag says.
	Lag() time.Duration
}

// Scanner is a Store that lists its live records in name order, to warm a
// cache when a process starts.
type Scanner interface {
	Store
	// Scan returns up to limit live (not deleted) records whose names sort
	// after after (by bytes), in that order; expired ones included.
	Scan(ctx context.Context, after string, limit int) ([]Record, error)
}
