package server

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/server/internal/recordcache"
	"github.com/p2pchat/p2pchat/tracker/store"
)

// The lookup path. A record does not change between writes, so the
// server keeps its JSON (signature included) in a bounded cache that the
// store keeps coherent (store.Watcher): a lookup is a hash probe, a copy
// into a pooled buffer and one Write. The cache keeps the JSON's pieces
// without its constant field names (packed.go).

// cacheUsable reports whether the cache may answer now: it exists and the
// store's reports of other processes' writes are recent enough.
func (s *Server) cacheUsable() bool {
	return s.cache != nil && s.watcher.Lag() < s.cfg.CacheMaxLag
}

// appendRecord appends the JSON of name's record to dst, from the cache
// or the store, and returns it with the record's expiry. name must be
// valid (record.ValidateName).
func (s *Server) appendRecord(ctx context.Context, dst []byte, name string) ([]byte, time.Time, error) {
	cached := s.cacheUsable()
	var tok recordcache.Token
	if cached {
		var scratch [512]byte
		packed, exp, ok, t := s.cache.Get(name, scratch[:0])
		if ok {
			return unpackRecord(dst, name, packed), time.Unix(exp, 0).UTC(), nil
		}
		tok = t
	}
	rec, err := s.get(ctx, name)
	if err != nil {
		return dst, time.Time{}, err
	}
	if cached {
		s.fill(rec, tok)
	}
	return rec.AppendJSON(dst), rec.Expires, nil
}

// fill caches rec, read from the store after tok was handed out.
func (s *Server) fill(rec record.Signed, tok recordcache.Token) {
	var scratch [512]byte
	if packed, ok := packRecord(scratch[:0], rec); ok {
		s.cache.Fill(rec.Name, packed, rec.Expires.Unix(), tok)
	}
}

// storedKey returns the key registered for name, from the cache or (then
// caching the record) the store, so that an update costs no store read
// when the record is in the cache.
func (s *Server) storedKey(ctx context.Context, name string) (ed25519.PublicKey, error) {
	cached := s.cacheUsable()
	var tok recordcache.Token
	if cached {
		var scratch [512]byte
		packed, _, ok, t := s.cache.Get(name, scratch[:0])
		if ok {
			if key, err := packedKey(packed); err == nil {
				return key, nil
			}
		}
		tok = t
	}
	rec, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if cached {
		s.fill(rec, tok)
	}
	return rec.PublicKey, nil
}

func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request) error {
	name := lookupName(r)
	if err := record.ValidateName(name); err != nil {
		return err
	}
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], `{"record":`...)
	b, exp, err := s.appendRecord(r.Context(), b, name)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	if !exp.After(now) {
		rec := b[len(`{"record":`):]
		b = append(make([]byte, 0, len(rec)+200), `{"error":"the record for `...)
		b = append(b, name...)
		b = append(b, ` has expired","code":"`+CodeExpired+`","record":`...)
		b = append(b, rec...)
		b = s.appendAnnounce(b, r, exp, now, true)
		writeBody(w, http.StatusGone, append(b, "}\n"...))
		return nil
	}
	b = s.appendAnnounce(b, r, exp, now, false)
	*bp = append(b, "}\n"...)
	writeBody(w, http.StatusOK, *bp)
	return nil
}

// cacheKeeper is what the store reports to: it drops the records that
// changed and keeps the ones this process wrote (store.Refresher), so
// that a user's next update or lookup after a write costs no store read.
type cacheKeeper struct{ c *recordcache.Cache }

func (k cacheKeeper) Invalidate(name string) { k.c.Invalidate(name) }
func (k cacheKeeper) InvalidateAll()         { k.c.InvalidateAll() }

func (k cacheKeeper) Refresh(st store.Record) {
	rec := fromStore(st)
	var scratch [512]byte
	if packed, ok := packRecord(scratch[:0], rec); ok {
		k.c.Put(rec.Name, packed, rec.Expires.Unix())
	} else {
		k.c.Invalidate(rec.Name)
	}
}

// warmCache fills the cache from the store, page by page in name order,
// until it is full or every record is in: after a start every lookup
// would otherwise miss at once. A page's fills are refused for names
// written since the page was read (recordcache.Cache.Mark).
func (s *Server) warmCache(ctx context.Context) {
	sc, ok := s.store.(store.Scanner)
	if s.cache == nil || !ok {
		return
	}
	if !s.waitCacheUsable(ctx) {
		return
	}
	const page = 1000
	t0 := time.Now()
	var buf []byte
	after, n := "", 0
	for ctx.Err() == nil {
		mark := s.cache.Mark()
		recs, err := sc.Scan(ctx, after, page)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("warm the lookup cache", zap.Error(err))
			}
			return
		}
		for _, st := range recs {
			rec := fromStore(st)
			var ok bool
			if buf, ok = packRecord(buf[:0], rec); ok {
				s.cache.Fill(rec.Name, buf, rec.Expires.Unix(), mark)
			}
		}
		n += len(recs)
		if len(recs) < page || s.cache.Stats().Bytes >= s.cfg.CacheBytes*15/16 {
			break
		}
		after = recs[len(recs)-1].Name
	}
	st := s.cache.Stats()
	s.log.Info("lookup cache warmed", zap.Int("read", n), zap.Int("cached", st.Entries),
		zap.Int64("bytes", st.Bytes), zap.Duration("took", time.Since(t0)))
}

// waitCacheUsable waits (a bounded while) until the store has checked for
// other processes' writes since the wait began: a store that starts
// listening when first watched reports InvalidateAll then, which would
// throw away what warming had done by that time.
func (s *Server) waitCacheUsable(ctx context.Context) bool {
	t0 := time.Now()
	for range 100 {
		if s.cacheUsable() && s.watcher.Lag() < time.Since(t0) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// bufPool holds response buffers. A record is a few hundred bytes; the
// pool keeps none over maxPooled so one huge record cannot pin memory.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooled = 16 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}
