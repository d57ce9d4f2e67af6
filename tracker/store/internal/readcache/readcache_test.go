package readcache

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/store"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func rec(name string, seq uint64) store.Record {
	return store.Record{Name: name, PublicKey: []byte{1, 2}, Addrs: []string{"127.0.0.1:1"}, Seq: seq, Signature: []byte{3}}
}

func TestFillThenLookup(t *testing.T) {
	c := New(100, time.Minute, nil)
	_, ok, tok := c.Lookup("alice")
	if ok {
		t.Fatal("empty cache hit")
	}
	c.Fill("alice", rec("alice", 1), tok)
	got, ok, _ := c.Lookup("alice")
	if !ok || got.Seq != 1 {
		t.Fatalf("Lookup after Fill = %+v, %v", got, ok)
	}
	// The caller's copy is its own.
	got.PublicKey[0], got.Addrs[0] = 9, "mutated"
	again, _, _ := c.Lookup("alice")
	if again.PublicKey[0] != 1 || again.Addrs[0] != "127.0.0.1:1" {
		t.Fatalf("a caller's change reached the cache: %+v", again)
	}
}

// The race the token exists for: a read of the old row that finishes after
// a write's Invalidate must not be cached.
func TestFillAfterInvalidateIsDropped(t *testing.T) {
	c := New(100, time.Minute, nil)
	_, _, tok := c.Lookup("alice") // reader misses, goes to the database, reads seq 1
	c.Invalidate("alice")          // meanwhile a writer commits seq 2
	c.Fill("alice", rec("alice", 1), tok)
	if got, ok, _ := c.Lookup("alice"); ok {
		t.Fatalf("stale fill was cached: %+v", got)
	}
	_, _, tok = c.Lookup("alice")
	c.Clear()
	c.Fill("alice", rec("alice", 1), tok)
	if _, ok, _ := c.Lookup("alice"); ok {
		t.Fatal("fill across Clear was cached")
	}
}

func TestTTL(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New(100, time.Second, clk.now)
	_, _, tok := c.Lookup("alice")
	c.Fill("alice", rec("alice", 1), tok)
	clk.t = clk.t.Add(999 * time.Millisecond)
	if _, ok, _ := c.Lookup("alice"); !ok {
		t.Fatal("entry gone before its TTL")
	}
	clk.t = clk.t.Add(time.Millisecond)
	if _, ok, _ := c.Lookup("alice"); ok {
		t.Fatal("entry served after its TTL")
	}
}

func TestSizeBound(t *testing.T) {
	c := New(shardCount*2, time.Minute, nil)
	for i := range 10_000 {
		name := fmt.Sprint("user", i)
		_, _, tok := c.Lookup(name)
		c.Fill(name, rec(name, 1), tok)
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > shardCount*2 {
		t.Fatalf("cache holds %d entries, bound is %d", n, shardCount*2)
	}
}

func TestNilCacheCachesNothing(t *testing.T) {
	for _, c := range []*Cache{New(0, time.Second, nil), New(10, 0, nil)} {
		if c != nil {
			t.Fatal("New with a zero size or TTL returned a cache")
		}
		_, _, tok := c.Lookup("a")
		c.Fill("a", rec("a", 1), tok)
		c.Invalidate("a")
		c.Clear()
		if _, ok, _ := c.Lookup("a"); ok {
			t.Fatal("nil cache hit")
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New(1000, time.Minute, nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				name := fmt.Sprint("u", (i*7+w)%50)
				if i%5 == 0 {
					c.Invalidate(name)
					continue
				}
				if _, ok, tok := c.Lookup(name); !ok {
					c.Fill(name, rec(name, uint64(i)), tok)
				}
			}
		})
	}
	wg.Wait()
}
