package recordcache

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

func val(name string, seq int) []byte {
	return fmt.Appendf(nil, `{"name":%q,"seq":%d,"pad":"%0200d"}`, name, seq, 0)
}

func TestGetFill(t *testing.T) {
	c := New(1 << 20)
	got, _, ok, tok := c.Get("alice", nil)
	if ok || len(got) != 0 {
		t.Fatal("hit in an empty cache")
	}
	c.Fill("alice", val("alice", 1), 1234, tok)
	got, exp, ok, _ := c.Get("alice", []byte("prefix:"))
	if !ok || exp != 1234 || !bytes.Equal(got, append([]byte("prefix:"), val("alice", 1)...)) {
		t.Fatalf("Get after Fill = %q, %d, %v", got, exp, ok)
	}
	if _, _, ok, _ := c.Get("bob", nil); ok {
		t.Fatal("hit for a name never filled")
	}
}

// TestInvalidateRefusesOlderFill is the race the tokens exist for: a
// lookup misses, a write commits and invalidates, and only then does the
// lookup's read (which saw the old row) try to fill.
func TestInvalidateRefusesOlderFill(t *testing.T) {
	c := New(1 << 20)
	_, _, _, tok := c.Get("alice", nil)
	c.Invalidate("alice")
	c.Fill("alice", val("alice", 1), 1, tok)
	if _, _, ok, _ := c.Get("alice", nil); ok {
		t.Fatal("a fill that began before an invalidation was kept")
	}
	_, _, _, tok = c.Get("alice", nil)
	c.Fill("alice", val("alice", 2), 1, tok)
	c.Invalidate("alice")
	if _, _, ok, _ := c.Get("alice", nil); ok {
		t.Fatal("Invalidate left the entry")
	}
	_, _, _, tok = c.Get("alice", nil)
	c.InvalidateAll()
	c.Fill("alice", val("alice", 3), 1, tok)
	if _, _, ok, _ := c.Get("alice", nil); ok {
		t.Fatal("a fill that began before InvalidateAll was kept")
	}
}

func TestReplaceKeepsNewest(t *testing.T) {
	c := New(1 << 20)
	for seq := range 50 {
		_, _, _, tok := c.Get("alice", nil)
		c.Fill("alice", val("alice", seq), int64(seq), tok)
		got, exp, ok, _ := c.Get("alice", nil)
		if !ok || exp != int64(seq) || !bytes.Equal(got, val("alice", seq)) {
			t.Fatalf("after fill %d: %q %d %v", seq, got, exp, ok)
		}
		c.Invalidate("alice")
	}
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("after invalidating everything: %+v", st)
	}
}

// TestBounded fills far more than the budget and checks what is held,
// and that survivors are intact after the compactions and evictions.
func TestBounded(t *testing.T) {
	const budget = 2 << 20
	c := New(budget)
	for i := range 40_000 { // about 10 MB of values
		name := fmt.Sprint("user", i)
		_, _, _, tok := c.Get(name, nil)
		c.Fill(name, val(name, i), int64(i), tok)
	}
	st := c.Stats()
	if st.Bytes > budget {
		t.Errorf("holds %d bytes, over the budget of %d", st.Bytes, budget)
	}
	if st.Bytes < budget*3/4 {
		t.Errorf("holds only %d bytes of a %d budget", st.Bytes, budget)
	}
	if limit := int64(budget*5/4 + shardN*pageSize); st.Arena > limit {
		t.Errorf("arenas take %d bytes, more than %d", st.Arena, limit)
	}
	hits := 0
	for i := range 40_000 {
		name := fmt.Sprint("user", i)
		got, exp, ok, _ := c.Get(name, nil)
		if !ok {
			continue
		}
		hits++
		if exp != int64(i) || !bytes.Equal(got, val(name, i)) {
			t.Fatalf("%s: got %q exp %d", name, got, exp)
		}
	}
	if hits != st.Entries {
		t.Errorf("%d hits, Stats says %d entries", hits, st.Entries)
	}
}

func TestTooBigNotCached(t *testing.T) {
	c := New(1 << 30)
	_, _, _, tok := c.Get("alice", nil)
	c.Fill("alice", make([]byte, MaxValue+1), 1, tok)
	if _, _, ok, _ := c.Get("alice", nil); ok {
		t.Fatal("cached a value over MaxValue")
	}
	small := New(shardN * 100) // 100 bytes a shard
	_, _, _, tok = small.Get("alice", nil)
	small.Fill("alice", val("alice", 1), 1, tok)
	if _, _, ok, _ := small.Get("alice", nil); ok {
		t.Fatal("cached an entry larger than its shard's budget")
	}
}

func TestNilCache(t *testing.T) {
	var c *Cache
	if New(0) != nil {
		t.Fatal("New(0) is not nil")
	}
	_, _, ok, tok := c.Get("alice", nil)
	c.Fill("alice", []byte("x"), 1, tok)
	c.Invalidate("alice")
	c.InvalidateAll()
	if ok || c.Stats() != (Stats{}) {
		t.Fatal("a nil cache cached")
	}
}

// TestConcurrent runs readers, fillers and invalidators at once (for the
// race detector) and checks that a hit is always a value some fill wrote.
func TestConcurrent(t *testing.T) {
	c := New(256 << 10)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			buf := make([]byte, 0, 512)
			for i := range 20_000 {
				name := fmt.Sprint("u", (i*7+w)%3000)
				got, exp, ok, tok := c.Get(name, buf[:0])
				switch {
				case ok && !bytes.Equal(got, val(name, int(exp))):
					t.Errorf("%s: %q does not match expiry %d", name, got, exp)
					return
				case !ok:
					c.Fill(name, val(name, i), int64(i), tok)
				case i%5 == 0:
					c.Invalidate(name)
				}
				if i%9000 == 0 && w == 0 {
					c.InvalidateAll()
				}
			}
		})
	}
	wg.Wait()
}

// TestMark is the scan's token: one taken before a read of many names
// refuses the fills of names invalidated since, and only those.
func TestMark(t *testing.T) {
	c := New(1 << 20)
	mark := c.Mark()
	for i := range 100 {
		if i%10 == 0 {
			c.Invalidate(fmt.Sprint("user", i))
		}
	}
	for i := range 100 {
		name := fmt.Sprint("user", i)
		c.Fill(name, val(name, i), 1, mark)
	}
	for i := range 100 {
		_, _, ok, _ := c.Get(fmt.Sprint("user", i), nil)
		if i%10 == 0 && ok {
			t.Errorf("user%d was invalidated after the mark but filled", i)
		}
	}
	if n := c.Stats().Entries; n < 80 {
		t.Errorf("only %d of 90 untouched names filled", n)
	}
}

// TestPut replaces what is cached and refuses fills begun before it.
func TestPut(t *testing.T) {
	c := New(1 << 20)
	_, _, _, tok := c.Get("alice", nil)
	c.Put("alice", val("alice", 2), 2)
	c.Fill("alice", val("alice", 1), 1, tok) // a read of the older row
	got, exp, ok, _ := c.Get("alice", nil)
	if !ok || exp != 2 || !bytes.Equal(got, val("alice", 2)) {
		t.Fatalf("after Put and a late fill: %q %d %v", got, exp, ok)
	}
	c.Put("alice", val("alice", 3), 3)
	if got, exp, _, _ := c.Get("alice", nil); exp != 3 || !bytes.Equal(got, val("alice", 3)) {
		t.Fatalf("after a second Put: %q %d", got, exp)
	}
	if st := c.Stats(); st.Entries != 1 {
		t.Fatalf("%d entries after Puts of one name", st.Entries)
	}
}

// BenchmarkGet is a hit among 100,000 entries, the lookup's whole cost in
// the cache.
func BenchmarkGet(b *testing.B) {
	c := New(1 << 30)
	const n = 100_000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("load%07d", i)
		_, _, _, tok := c.Get(names[i], nil)
		c.Fill(names[i], val(names[i], i), int64(i), tok)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 512)
		i := 0
		for pb.Next() {
			i = (i + 7919) % n
			if _, _, ok, _ := c.Get(names[i], buf[:0]); !ok {
				b.Fatal("miss")
			}
		}
	})
}
