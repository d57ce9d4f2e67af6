// Package readcache keeps recently read records in memory in front of a
// store that one process owns (sqlitestore), because lookups are the
// tracker's hot path and a SQLite read costs far more than a map lookup.
//
// The owner keeps it coherent with its own writes:
//
//	rec, ok, tok := c.Lookup(name)
//	if !ok {
//		rec, err = readFromDB(name)
//		if err == nil { c.Fill(name, rec, tok) }
//	}
//	...
//	writeToDB(...); c.Invalidate(name) // after every write, failed or not
//
// Fill stores a record only if no write touched its shard since Lookup
// handed out tok, so a read that raced a write can never put the old row
// back after the write's Invalidate. Writes by other processes (a second
// tracker on the same SQLite file, a direct preload) are not seen; entries
// expire after the TTL to bound how stale such a read can be. Not-found is
// never cached, so names created elsewhere are visible at once.
package readcache

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/tracker/store"
)

const shardCount = 64 // power of two; enough that 2-16 cores rarely collide

// Cache is a sharded map of records with a per-shard write generation. A
// nil *Cache is valid and caches nothing.
type Cache struct {
	seed     maphash.Seed
	ttl      time.Duration
	perShard int
	now      func() time.Time
	shards   [shardCount]shard
}

type shard struct {
	mu  sync.Mutex
	gen uint64           // bumped by every Invalidate; guarded by mu
	m   map[string]entry // guarded by mu
}

type entry struct {
	rec store.Record
	at  time.Time
}

// Token is the shard generation a Lookup miss saw.
type Token struct{ gen uint64 }

// New returns a cache of about entries records, each trusted for ttl, or
// nil (no caching) if entries or ttl is not positive. now is the clock;
// nil means time.Now.
func New(entries int, ttl time.Duration, now func() time.Time) *Cache {
	if entries <= 0 || ttl <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	c := &Cache{seed: maphash.MakeSeed(), ttl: ttl, perShard: max(1, entries/shardCount), now: now}
	for i := range c.shards {
		c.shards[i].m = make(map[string]entry)
	}
	return c
}

func (c *Cache) shard(name string) *shard {
	return &c.shards[maphash.String(c.seed, name)&(shardCount-1)]
}

// Lookup returns a copy of the cached record for name, or ok=false and the
// token to pass to Fill after reading the database.
func (c *Cache) Lookup(name string) (rec store.Record, ok bool, tok Token) {
	if c == nil {
		return store.Record{}, false, Token{}
	}
	s := c.shard(name)
	s.mu.Lock()
	e, ok := s.m[name]
	tok = Token{s.gen}
	s.mu.Unlock()
	if !ok || c.now().Sub(e.at) >= c.ttl {
		return store.Record{}, false, tok
	}
	return clone(e.rec), true, tok
}

// Fill caches rec (copied) unless a write to its shard happened since tok.
func (c *Cache) Fill(name string, rec store.Record, tok Token) {
	if c == nil {
		return
	}
	rec = clone(rec)
	s := c.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != tok.gen {
		return
	}
	if _, present := s.m[name]; !present && len(s.m) >= c.perShard {
		for victim := range s.m { // map order is random enough for eviction
			delete(s.m, victim)
			break
		}
	}
	s.m[name] = entry{rec: rec, at: c.now()}
}

// Invalidate drops name and stops fills that started before it.
func (c *Cache) Invalidate(name string) {
	if c == nil {
		return
	}
	s := c.shard(name)
	s.mu.Lock()
	s.gen++
	delete(s.m, name)
	s.mu.Unlock()
}

// Clear drops everything, for writes that touch many names (purges).
func (c *Cache) Clear() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		clear(s.m)
		s.mu.Unlock()
	}
}

// clone copies the slices so that neither the caller nor the cache can
// change the other's record.
func clone(r store.Record) store.Record {
	r.PublicKey = bytes.Clone(r.PublicKey)
	r.Signature = bytes.Clone(r.Signature)
	r.Addrs = slices.Clone(r.Addrs)
	return r
}
