// Package recordcache keeps the tracker's lookup answers ready: for each
// cached name, the JSON encoding of its signed record (signature
// included) and its expiry, so that a lookup is a hash probe and a copy.
//
// It is bounded (New's budget, in bytes), sharded (lookups of different
// shards never meet on a lock), and keeps its entries outside the Go heap
// (see allocArena), found through an open-addressing index of 8 bytes a
// slot: the garbage collector never scans them nor counts them towards its
// heap goal, and a million records cost their bytes and about 12 more.
//
// Coherence with the store is the caller's job, by two rules:
//
//	val, exp, ok, tok := c.Get(name, buf)
//	if !ok {
//		rec, err := st.Get(ctx, name)
//		if err == nil { c.Fill(name, encode(rec), exp, tok) }
//	}
//	// and for every write, by this process or (reported by the store) another:
//	c.Invalidate(name)
//
// Fill stores only if nothing invalidated name since Get handed out tok,
// so a read that raced a write can never put the old record back after
// the write's Invalidate. (Invalidations are remembered by stripe, a
// 65,536th of the names, so one to another name of the stripe also
// refuses the fill: a spurious miss later, never a stale answer.) Mark
// hands out a token good for any name, for filling from a scan.
package recordcache

import (
	"encoding/binary"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	shardBits = 8
	shardN    = 1 << shardBits
	// stripes per shard: a token is one stripe's generation.
	stripeN = 256
	// header is an entry's fixed part: name length (1 byte), value length
	// (4), expiry (8).
	header = 13
	// MaxValue is the largest value kept; bigger ones are not cached.
	MaxValue = 1 << 20
	pageSize = 4 << 10 // arenas are whole pages
	// maxShardBudget keeps arena offsets within 32 bits.
	maxShardBudget = 1 << 30
)

// Cache maps names to encoded records. A nil *Cache is valid and caches
// nothing. Its methods are safe for concurrent use.
type Cache struct {
	seed   maphash.Seed
	budget int // per shard, bytes
	// seq numbers invalidations; a token is its value before a read.
	seq    atomic.Uint64
	shards *[shardN]shard
}

type shard struct {
	mu sync.RWMutex
	// Everything below is guarded by mu.
	cleared uint64          // seq of the last InvalidateAll
	stripes [stripeN]uint64 // seq of the stripe's last Invalidate
	idx     index           // name hash -> entry offset in arena
	arena   []byte          // outside the Go heap; entries from 0 to used
	used    int             // bytes of arena written
	live    int             // bytes of arena held by entries in idx
}

// Token is the invalidation count before a read; Fill needs it.
type Token struct{ seq uint64 }

// New returns a cache that holds at most about budget bytes of entries
// and index, or nil (no caching) if budget is not positive.
func New(budget int64) *Cache {
	if budget <= 0 {
		return nil
	}
	c := &Cache{seed: maphash.MakeSeed(), budget: int(min(max(budget/shardN, 1), maxShardBudget)), shards: new([shardN]shard)}
	// The arenas are not garbage-collected memory: free them when the
	// cache is. The cleanup takes each shard's lock, so a method still
	// running on a shard finishes first, and sees an empty shard after.
	runtime.AddCleanup(c, freeShards, c.shards)
	return c
}

func freeShards(shards *[shardN]shard) {
	for i := range shards {
		s := &shards[i]
		s.mu.Lock()
		s.dropAllLocked()
		s.mu.Unlock()
	}
}

func (c *Cache) locate(name string) (s *shard, h uint64, stripe int) {
	h = maphash.String(c.seed, name)
	return &c.shards[h>>(64-shardBits)], h, int(h>>(64-2*shardBits)) & (stripeN - 1)
}

// Mark returns a token for a read of any names that begins now.
func (c *Cache) Mark() Token {
	if c == nil {
		return Token{}
	}
	return Token{c.seq.Load()}
}

// staleLocked reports whether stripe was invalidated after tok.
func (s *shard) staleLocked(stripe int, tok Token) bool {
	return s.stripes[stripe] > tok.seq || s.cleared > tok.seq
}

// Get appends the value cached for name to dst and returns it with the
// expiry stored beside it; ok is false on a miss, and tok is then what to
// give Fill once the caller has read the record from the store.
func (c *Cache) Get(name string, dst []byte) (out []byte, expires int64, ok bool, tok Token) {
	if c == nil {
		return dst, 0, false, Token{}
	}
	tok = c.Mark()
	s, h, _ := c.locate(name)
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, off, found := s.findLocked(h, name)
	if !found {
		return dst, 0, false, tok
	}
	e := s.arena[off:]
	n, vlen := int(e[0]), int(binary.LittleEndian.Uint32(e[1:5]))
	expires = int64(binary.LittleEndian.Uint64(e[5:13]))
	return append(dst, e[header+n:header+n+vlen]...), expires, true, Token{}
}

// findLocked returns the index slot and arena offset of name's entry.
func (s *shard) findLocked(h uint64, name string) (slot int, off uint32, ok bool) {
	slots := s.idx.slots
	if len(slots) == 0 {
		return 0, 0, false
	}
	mask, tag := len(slots)-1, uint32(h)
	for i := int(tag) & mask; slots[i] != 0; i = (i + 1) & mask {
		if tagOf(slots[i]) != tag {
			continue
		}
		off := offOf(slots[i])
		e := s.arena[off:]
		if string(e[header:header+int(e[0])]) == name {
			return i, off, true
		}
	}
	return 0, 0, false
}

// Fill caches val and expires for name unless name's stripe was
// invalidated (or everything was) since tok was handed out. Values over
// MaxValue and names over 255 bytes are not cached.
func (c *Cache) Fill(name string, val []byte, expires int64, tok Token) {
	if c == nil {
		return
	}
	s, h, stripe := c.locate(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.staleLocked(stripe, tok) {
		c.putLocked(s, h, name, val, expires)
	}
}

// Put replaces what is cached for name with val, as Invalidate and a
// fill at once: for a writer that knows what it just committed, and
// calls Put in commit order. Fills of reads that began before are refused.
func (c *Cache) Put(name string, val []byte, expires int64) {
	if c == nil {
		return
	}
	s, h, stripe := c.locate(name)
	seq := c.seq.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stripes[stripe] = seq
	c.putLocked(s, h, name, val, expires)
}

// putLocked stores an entry for name, whose hash is h, evicting others
// to stay within the shard's budget.
func (c *Cache) putLocked(s *shard, h uint64, name string, val []byte, expires int64) {
	s.removeLocked(h, name)
	if len(name) > 255 || len(val) > MaxValue {
		return
	}
	size := header + len(name) + len(val)
	for s.live+s.idx.bytes(1)+size > c.budget && s.idx.n > 0 {
		s.evictLocked(h)
	}
	if s.live+s.idx.bytes(1)+size > c.budget {
		return // larger than a whole shard's budget
	}
	if s.used+size > len(s.arena) {
		s.compactLocked(size)
	}
	e := s.arena[s.used : s.used+size]
	e[0] = byte(len(name))
	binary.LittleEndian.PutUint32(e[1:5], uint32(len(val)))
	binary.LittleEndian.PutUint64(e[5:13], uint64(expires))
	copy(e[header:], name)
	copy(e[header+len(name):], val)
	s.idx.insert(h, uint32(s.used))
	s.used += size
	s.live += size
}

// Invalidate drops name and refuses the fills of reads that began before.
func (c *Cache) Invalidate(name string) {
	if c == nil {
		return
	}
	s, h, stripe := c.locate(name)
	seq := c.seq.Add(1)
	s.mu.Lock()
	s.stripes[stripe] = seq
	s.removeLocked(h, name)
	s.mu.Unlock()
}

// InvalidateAll drops everything and refuses every fill of a read that
// began before: for when any record may have changed. With Invalidate it
// makes a *Cache a store.Invalidator.
func (c *Cache) InvalidateAll() {
	if c == nil {
		return
	}
	seq := c.seq.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.cleared = seq
		s.dropAllLocked()
		s.mu.Unlock()
	}
}

// Stats is what the cache holds.
type Stats struct {
	Entries int
	// Bytes is what counts against the budget: entries and index.
	Bytes int64
	// Arena is the memory the entries' arenas take, garbage included:
	// at most 5/4 of the entries' share of Bytes, plus a page a shard.
	Arena int64
}

// Stats counts the entries and bytes held now.
func (c *Cache) Stats() Stats {
	var st Stats
	if c == nil {
		return st
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		st.Entries += s.idx.n
		st.Bytes += int64(s.live + s.idx.bytes(0))
		st.Arena += int64(len(s.arena))
		s.mu.RUnlock()
	}
	return st
}

func (s *shard) entrySize(off uint32) int {
	e := s.arena[off:]
	return header + int(e[0]) + int(binary.LittleEndian.Uint32(e[1:5]))
}

func (s *shard) removeLocked(h uint64, name string) {
	if slot, off, ok := s.findLocked(h, name); ok {
		s.live -= s.entrySize(off)
		s.idx.remove(slot)
	}
}

// evictLocked drops an entry near a position chosen by h, which (the hash
// of the name being stored) is as random as the names are.
func (s *shard) evictLocked(h uint64) {
	slot, off := s.idx.any(h >> 32)
	s.live -= s.entrySize(off)
	s.idx.remove(slot)
}

func (s *shard) dropAllLocked() {
	s.idx = index{}
	freeArena(s.arena)
	s.arena, s.used, s.live = nil, 0, 0
}

// compactLocked moves the live entries to a new arena with room for need
// more bytes and a quarter of slack, so that rewriting the shard is paid
// for by at least a quarter of its size in new entries.
func (s *shard) compactLocked(need int) {
	size := s.live + need
	size += size / 4
	size = (size + pageSize - 1) &^ (pageSize - 1)
	arena := allocArena(size)
	used := 0
	s.idx.rewrite(func(off uint32) uint32 {
		n := s.entrySize(off)
		copy(arena[used:], s.arena[off:int(off)+n])
		used += n
		return uint32(used - n)
	})
	freeArena(s.arena)
	s.arena, s.used = arena, used
}
