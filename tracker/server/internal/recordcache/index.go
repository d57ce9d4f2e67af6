package recordcache

// index maps a name's hash to its entry's offset in the arena: an
// open-addressing table of 8-byte slots, linear probing, at most 3/4 full,
// deletion by shifting back (no tombstones). A slot holds the low 32 bits
// of the hash (which also place it) and the offset plus one; 0 is empty.
// Names whose hashes share those bits are told apart by the caller,
// which compares the names in the arena.
type index struct {
	slots []uint64 // len is 0 or a power of two
	n     int      // slots in use
}

func slotOf(tag, off uint32) uint64 { return uint64(tag)<<32 | uint64(off) + 1 }
func tagOf(slot uint64) uint32      { return uint32(slot >> 32) }
func offOf(slot uint64) uint32      { return uint32(slot) - 1 }

// bytes is what the table takes with extra more entries in it.
func (x *index) bytes(extra int) int {
	n := len(x.slots)
	for (x.n+extra)*4 > n*3 {
		n = max(2*n, 8)
	}
	return 8 * n
}

func (x *index) insert(h uint64, off uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.resize(max(2*len(x.slots), 8))
	}
	x.place(slotOf(uint32(h), off))
	x.n++
}

func (x *index) place(slot uint64) {
	mask := len(x.slots) - 1
	i := int(tagOf(slot)) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = slot
}

func (x *index) resize(n int) {
	old := x.slots
	x.slots = make([]uint64, n)
	for _, slot := range old {
		if slot != 0 {
			x.place(slot)
		}
	}
}

// remove empties slot i and shifts back the entries after it that would
// no longer be found past the hole.
func (x *index) remove(i int) {
	mask := len(x.slots) - 1
	x.slots[i] = 0
	if x.n--; x.n == 0 {
		x.slots = nil
		return
	}
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		home := int(tagOf(x.slots[j])) & mask
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i], x.slots[j] = x.slots[j], 0
			i = j
		}
	}
}

// any returns some used slot, the first at or after position r.
func (x *index) any(r uint64) (int, uint32) {
	mask := len(x.slots) - 1
	for i := int(r) & mask; ; i = (i + 1) & mask {
		if x.slots[i] != 0 {
			return i, offOf(x.slots[i])
		}
	}
}

// rewrite replaces every offset by move's answer for it.
func (x *index) rewrite(move func(off uint32) uint32) {
	for i, slot := range x.slots {
		if slot != 0 {
			x.slots[i] = slotOf(tagOf(slot), move(offOf(slot)))
		}
	}
}
