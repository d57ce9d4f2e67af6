package recordcache

import (
	"math/rand/v2"
	"testing"
)

// TestIndexAgainstMap inserts and removes at random, with hashes crowded
// into few home slots so that probing and backward shifts wrap around,
// and checks every key stays findable as a map says it should be.
func TestIndexAgainstMap(t *testing.T) {
	var x index
	want := map[uint64]uint32{}
	rng := rand.New(rand.NewPCG(1, 2))
	find := func(h uint64) (int, uint32, bool) { // as shard.findLocked probes
		if len(x.slots) == 0 {
			return 0, 0, false
		}
		mask := len(x.slots) - 1
		for i := int(uint32(h)) & mask; x.slots[i] != 0; i = (i + 1) & mask {
			if tagOf(x.slots[i]) == uint32(h) && offOf(x.slots[i]) == want[h] { // offsets are unique, like arena offsets
				return i, offOf(x.slots[i]), true
			}
		}
		return 0, 0, false
	}
	for step := range 20000 {
		h := uint64(rng.IntN(300)) * 0x9E3779B1 << 3 // many share their low bits' home
		if _, ok := want[h]; ok && rng.IntN(2) == 0 {
			i, _, found := find(h)
			if !found {
				t.Fatalf("step %d: %x lost", step, h)
			}
			x.remove(i)
			delete(want, h)
			continue
		}
		if _, ok := want[h]; !ok {
			want[h] = uint32(step)
			x.insert(h, uint32(step))
		}
	}
	if x.n != len(want) {
		t.Fatalf("index holds %d, want %d", x.n, len(want))
	}
	for h, off := range want {
		if _, got, ok := find(h); !ok || got != off {
			t.Fatalf("%x: found %d %v, want %d", h, got, ok, off)
		}
	}
	if x.n*4 > len(x.slots)*3 {
		t.Fatalf("%d entries in %d slots: over 3/4 full", x.n, len(x.slots))
	}
}
