package storetest

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/store"
)

func testRoundTrip(t *testing.T, st store.Store) {
	rec := store.Record{
		Name:      "alice",
		PublicKey: Key(1),
		// Order matters to clients (preferred address first), so it must survive.
		Addrs:     []string{"203.0.113.9:4100", "127.0.0.1:4100", "[2001:db8::1]:4100"},
		Seq:       42,
		Expires:   time.Unix(1_900_000_000, 987_654_321), // sub-second part is dropped
		Signature: Sig(42),
	}
	mustCreate(t, st, rec)
	got := mustGet(t, st, "alice")
	assertRecord(t, got, rec)
	if got.Expires.Location() != time.UTC {
		t.Errorf("Expires location = %v, want UTC", got.Expires.Location())
	}

	empty := NewRecord("bob", Key(2), 1)
	empty.Addrs = nil
	mustCreate(t, st, empty)
	if got := mustGet(t, st, "bob"); len(got.Addrs) != 0 {
		t.Errorf("Addrs of a record created without addrs = %q, want none", got.Addrs)
	}
}

func testGetMissing(t *testing.T, st store.Store) {
	_, err := st.Get(ctxFor(t), "nobody")
	wantErr(t, "Get of a name never registered", err, store.ErrNotFound)
}

func testCreateDuplicate(t *testing.T, st store.Store) {
	first := NewRecord("alice", Key(1), 1)
	mustCreate(t, st, first)
	err := st.Create(ctxFor(t), NewRecord("alice", Key(1), 2))
	wantErr(t, "second Create with the same key", err, store.ErrExists)
	err = st.Create(ctxFor(t), NewRecord("alice", Key(9), 5))
	wantErr(t, "second Create with another key", err, store.ErrExists)
	assertRecord(t, mustGet(t, st, "alice"), first)
}

func testUpdateWrongKey(t *testing.T, st store.Store) {
	first := NewRecord("alice", Key(1), 1)
	mustCreate(t, st, first)
	err := st.Update(ctxFor(t), NewRecord("alice", Key(9), 2), Key(9))
	wantErr(t, "Update signed by a stranger", err, store.ErrKeyMismatch)
	// A stranger claiming to rotate from the right key but signing with its own.
	err = st.Update(ctxFor(t), NewRecord("alice", Key(1), 2), Key(9))
	wantErr(t, "Update with the owner's key in the record but a stranger's signer", err, store.ErrKeyMismatch)
	assertRecord(t, mustGet(t, st, "alice"), first)
}

func testUpdateStaleSeq(t *testing.T, st store.Store) {
	cur := NewRecord("alice", Key(1), 5)
	mustCreate(t, st, cur)
	for _, seq := range []uint64{5, 4, 0} {
		err := st.Update(ctxFor(t), NewRecord("alice", Key(1), seq), Key(1))
		wantErr(t, "Update with seq not above 5", err, store.ErrStaleSeq)
	}
	assertRecord(t, mustGet(t, st, "alice"), cur)
}

func testUpdateMissing(t *testing.T, st store.Store) {
	err := st.Update(ctxFor(t), NewRecord("ghost", Key(1), 1), Key(1))
	wantErr(t, "Update of a name never registered", err, store.ErrNotFound)
	if _, err := st.Get(ctxFor(t), "ghost"); err == nil {
		t.Fatal("Update of a missing name created it")
	}
}

func testUpdate(t *testing.T, st store.Store) {
	mustCreate(t, st, NewRecord("alice", Key(1), 1))
	next := NewRecord("alice", Key(1), 7) // seq may jump
	next.Addrs = []string{"127.0.0.2:9"}
	next.Expires = time.Unix(2_100_000_000, 0)
	if err := st.Update(ctxFor(t), next, Key(1)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	assertRecord(t, mustGet(t, st, "alice"), next)
}

func testRotation(t *testing.T, st store.Store) {
	oldKey, newKey := Key(1), Key(2)
	mustCreate(t, st, NewRecord("alice", oldKey, 1))
	rotated := NewRecord("alice", newKey, 2)
	if err := st.Update(ctxFor(t), rotated, oldKey); err != nil {
		t.Fatalf("rotation signed by the old key: %v", err)
	}
	assertRecord(t, mustGet(t, st, "alice"), rotated)

	err := st.Update(ctxFor(t), NewRecord("alice", oldKey, 3), oldKey)
	wantErr(t, "Update signed by the retired key", err, store.ErrKeyMismatch)
	err = st.Delete(ctxFor(t), "alice", oldKey, 3)
	wantErr(t, "Delete signed by the retired key", err, store.ErrKeyMismatch)
	if err := st.Update(ctxFor(t), NewRecord("alice", newKey, 3), newKey); err != nil {
		t.Fatalf("Update signed by the new key: %v", err)
	}
}

func testDelete(t *testing.T, st store.Store) {
	mustCreate(t, st, NewRecord("alice", Key(1), 1))
	if err := st.Delete(ctxFor(t), "alice", Key(1), 2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := st.Get(ctxFor(t), "alice")
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	err = st.Update(ctxFor(t), NewRecord("alice", Key(1), 3), Key(1))
	wantErr(t, "Update after Delete", err, store.ErrNotFound)
	err = st.Delete(ctxFor(t), "alice", Key(1), 3)
	wantErr(t, "second Delete", err, store.ErrNotFound)
	err = st.Delete(ctxFor(t), "nobody", Key(1), 1)
	wantErr(t, "Delete of a name never registered", err, store.ErrNotFound)
}

func testDeleteConditions(t *testing.T, st store.Store) {
	cur := NewRecord("alice", Key(1), 5)
	mustCreate(t, st, cur)
	err := st.Delete(ctxFor(t), "alice", Key(9), 6)
	wantErr(t, "Delete signed by a stranger", err, store.ErrKeyMismatch)
	err = st.Delete(ctxFor(t), "alice", Key(1), 5)
	wantErr(t, "Delete with the current seq", err, store.ErrStaleSeq)
	assertRecord(t, mustGet(t, st, "alice"), cur)
}

func testReplayAfterDelete(t *testing.T, st store.Store) {
	mustCreate(t, st, NewRecord("alice", Key(1), 1))
	if err := st.Update(ctxFor(t), NewRecord("alice", Key(1), 2), Key(1)); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctxFor(t), "alice", Key(1), 3); err != nil {
		t.Fatal(err)
	}
	// An eavesdropper replays the old signed registration and update.
	for _, seq := range []uint64{1, 2, 3} {
		err := st.Create(ctxFor(t), NewRecord("alice", Key(1), seq))
		wantErr(t, "replayed Create after Delete", err, store.ErrStaleSeq)
	}
	_, err := st.Get(ctxFor(t), "alice")
	wantErr(t, "Get after refused replays", err, store.ErrNotFound)
	// The owner may come back with a fresh seq.
	back := NewRecord("alice", Key(1), 4)
	mustCreate(t, st, back)
	assertRecord(t, mustGet(t, st, "alice"), back)
}

// testReplayRotatedKey is finding 5 of issue 11: register K1, rotate to
// K2, delete. The tombstone names K2, but K1's signed registrations are
// still out there and must not bring the name back.
func testReplayRotatedKey(t *testing.T, st store.Store) {
	mustCreate(t, st, NewRecord("alice", Key(1), 1))
	if err := st.Update(ctxFor(t), NewRecord("alice", Key(1), 2), Key(1)); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctxFor(t), NewRecord("alice", Key(2), 3), Key(1)); err != nil {
		t.Fatalf("rotate to K2: %v", err)
	}
	if err := st.Delete(ctxFor(t), "alice", Key(2), 4); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 2} {
		err := st.Create(ctxFor(t), NewRecord("alice", Key(1), seq))
		wantErr(t, fmt.Sprintf("replayed K1 registration seq %d after rotate and delete", seq), err, store.ErrStaleSeq)
	}
	err := st.Create(ctxFor(t), NewRecord("alice", Key(2), 3))
	wantErr(t, "replayed K2 registration after delete", err, store.ErrStaleSeq)
	_, err = st.Get(ctxFor(t), "alice")
	wantErr(t, "Get after refused replays", err, store.ErrNotFound)
	// Either owner may come back with a seq above everything it signed.
	back := NewRecord("alice", Key(1), 5)
	mustCreate(t, st, back)
	assertRecord(t, mustGet(t, st, "alice"), back)
}

// testReplayOlderOwner: the history outlives a new owner. K1 owns the name
// up to seq 7 and deletes it; K2 takes it at seq 1 and deletes it at 2. K1's
// registrations (seq up to 7) must still not replay.
func testReplayOlderOwner(t *testing.T, st store.Store) {
	mustCreate(t, st, NewRecord("alice", Key(1), 6))
	if err := st.Delete(ctxFor(t), "alice", Key(1), 7); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, NewRecord("alice", Key(2), 1))
	if err := st.Delete(ctxFor(t), "alice", Key(2), 2); err != nil {
		t.Fatal(err)
	}
	err := st.Create(ctxFor(t), NewRecord("alice", Key(1), 6))
	wantErr(t, "replayed registration of an earlier owner", err, store.ErrStaleSeq)
	mustCreate(t, st, NewRecord("alice", Key(1), 8))
}

func testOtherKeyTakesName(t *testing.T, st store.Store) {
	mustCreate(t, st, NewRecord("alice", Key(1), 10))
	if err := st.Delete(ctxFor(t), "alice", Key(1), 11); err != nil {
		t.Fatal(err)
	}
	newcomer := NewRecord("alice", Key(2), 1) // its own seq space starts low
	mustCreate(t, st, newcomer)
	assertRecord(t, mustGet(t, st, "alice"), newcomer)
	err := st.Update(ctxFor(t), NewRecord("alice", Key(1), 12), Key(1))
	wantErr(t, "Update by the previous owner", err, store.ErrKeyMismatch)
}

func testCount(t *testing.T, st store.Store) {
	assertCount(t, st, 0)
	for i, name := range []string{"a", "b", "c"} {
		mustCreate(t, st, NewRecord(name, Key(byte(i)), 1))
	}
	assertCount(t, st, 3)
	if err := st.Delete(ctxFor(t), "b", Key(1), 2); err != nil {
		t.Fatal(err)
	}
	assertCount(t, st, 2) // tombstones are not users
}

func assertCount(t *testing.T, st store.Store, want int64) {
	t.Helper()
	n, err := st.Count(ctxFor(t))
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Fatalf("Count = %d, want %d", n, want)
	}
}

func testPurgeExpired(t *testing.T, st store.Store) {
	now := time.Unix(1_800_000_000, 0)
	at := func(name string, key byte, exp time.Time) {
		rec := NewRecord(name, Key(key), 1)
		rec.Expires = exp
		mustCreate(t, st, rec)
	}
	at("old", 1, now.Add(-time.Hour))
	at("edge", 2, now) // expires exactly at `before`: not before it, so kept
	at("fresh", 3, now.Add(time.Hour))
	at("gone", 4, now.Add(-time.Minute))
	if err := st.Delete(ctxFor(t), "gone", Key(4), 2); err != nil {
		t.Fatal(err)
	}
	n, err := st.PurgeExpired(ctxFor(t), now)
	if err != nil {
		t.Fatalf("PurgeExpired: %v", err)
	}
	if n != 2 {
		t.Errorf("PurgeExpired removed %d, want 2 (one record, one tombstone)", n)
	}
	for _, name := range []string{"edge", "fresh"} {
		mustGet(t, st, name)
	}
	_, err = st.Get(ctxFor(t), "old")
	wantErr(t, "Get of a purged record", err, store.ErrNotFound)
	// With the tombstone gone the name is free again, even at a low seq.
	mustCreate(t, st, NewRecord("gone", Key(4), 1))
	mustCreate(t, st, NewRecord("old", Key(7), 1))
	assertCount(t, st, 4)
}

func testOddNames(t *testing.T, st store.Store) {
	names := []string{
		"", "a\x00b", "\x00", "\xff\xfe\x80", "日本語", "Alice", "alice",
		"x'; DROP TABLE users; --", `"quoted"`, "%_*?", "trailing ",
		strings.Repeat("n", 1000),
	}
	for i, name := range names {
		rec := NewRecord(name, Key(byte(i)), 1)
		mustCreate(t, st, rec)
	}
	for i, name := range names {
		got := mustGet(t, st, name)
		assertRecord(t, got, NewRecord(name, Key(byte(i)), 1))
	}
	assertCount(t, st, int64(len(names)))
	if err := st.Delete(ctxFor(t), "a\x00b", Key(1), 2); err != nil {
		t.Fatalf("Delete of a name with a NUL byte: %v", err)
	}
	if _, err := st.Get(ctxFor(t), "a"); err == nil {
		t.Fatal(`Get("a") found a record; names must not be cut at NUL`)
	}
	mustGet(t, st, "\x00")
}

func testInvalidRecord(t *testing.T, st store.Store) {
	big := NewRecord("big", Key(1), math.MaxInt64+1)
	wantErr(t, "Create with seq above MaxInt64", st.Create(ctxFor(t), big), store.ErrInvalidRecord)

	bad := NewRecord("bad", Key(1), 1)
	bad.Addrs = []string{"\xff:1"}
	wantErr(t, "Create with a non-UTF-8 address", st.Create(ctxFor(t), bad), store.ErrInvalidRecord)

	ok := NewRecord("max", Key(1), math.MaxInt64-1)
	mustCreate(t, st, ok)
	if err := st.Update(ctxFor(t), NewRecord("max", Key(1), math.MaxInt64), Key(1)); err != nil {
		t.Fatalf("Update to seq MaxInt64: %v", err)
	}
	err := st.Delete(ctxFor(t), "max", Key(1), math.MaxInt64+1)
	wantErr(t, "Delete with seq above MaxInt64", err, store.ErrInvalidRecord)
	if got := mustGet(t, st, "max"); got.Seq != math.MaxInt64 {
		t.Fatalf("Seq = %d, want MaxInt64", got.Seq)
	}
}

func testCanceledContext(t *testing.T, st store.Store) {
	mustCreate(t, st, NewRecord("alice", Key(1), 1))
	ctx, cancel := contextCanceled(t)
	defer cancel()
	if err := st.Update(ctx, NewRecord("alice", Key(1), 2), Key(1)); err == nil {
		t.Fatal("Update with a canceled context succeeded")
	}
	if got := mustGet(t, st, "alice"); got.Seq != 1 {
		t.Fatalf("Seq after a canceled Update = %d, want 1", got.Seq)
	}
}

// testReadYourWrites reads between every write, so that a store with a
// read cache must invalidate it on each kind of write.
func testReadYourWrites(t *testing.T, st store.Store) {
	step := func(what string, want store.Record) {
		t.Helper()
		got, err := st.Get(ctxFor(t), want.Name)
		if err != nil {
			t.Fatalf("Get %s: %v", what, err)
		}
		assertRecord(t, got, want)
	}
	gone := func(what string) {
		t.Helper()
		_, err := st.Get(ctxFor(t), "alice")
		wantErr(t, what, err, store.ErrNotFound)
	}
	gone("Get before Create") // and a miss must not be remembered
	v1 := NewRecord("alice", Key(1), 1)
	mustCreate(t, st, v1)
	step("after Create", v1)
	v2 := NewRecord("alice", Key(1), 2)
	v2.Addrs = []string{"127.0.0.3:3"}
	if err := st.Update(ctxFor(t), v2, Key(1)); err != nil {
		t.Fatal(err)
	}
	step("after Update", v2)
	v3 := NewRecord("alice", Key(2), 3)
	if err := st.Update(ctxFor(t), v3, Key(1)); err != nil {
		t.Fatal(err)
	}
	step("after rotation", v3)
	if err := st.Delete(ctxFor(t), "alice", Key(2), 4); err != nil {
		t.Fatal(err)
	}
	gone("Get after Delete")
	v4 := NewRecord("alice", Key(3), 1)
	v4.Expires = time.Unix(1_500_000_000, 0)
	mustCreate(t, st, v4)
	step("after re-Create by another key", v4)
	if _, err := st.PurgeExpired(ctxFor(t), time.Unix(1_600_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	gone("Get after PurgeExpired")
}
