// Package storetest is the conformance suite every store.Store backend
// must pass. A backend's test calls Run with a function that opens a fresh,
// empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "t.db"), nil)
//			if err != nil { t.Fatal(err) }
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
// RaceUpdates and RaceCreates can also be called directly with several
// Store instances on one database, standing in for several tracker
// processes. BenchGet and BenchUpdate are the shared benchmarks.
//
// Keys and signatures here are fake bytes: the store treats them as opaque.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/store"
)

// Run runs every conformance test against stores made by open. open must
// return an empty store and arrange its Close with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	// Leaks first: it counts goroutines, so nothing else may be running.
	t.Run("CloseReleasesGoroutines", func(t *testing.T) { testCloseLeaks(t, open) })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	t.Run("RaceUpdates", func(t *testing.T) {
		st := open(t)
		RaceUpdates(t, st, st)
	})
	t.Run("RaceCreates", func(t *testing.T) {
		st := open(t)
		RaceCreates(t, st, st)
	})
}

var cases = []struct {
	name string
	fn   func(t *testing.T, st store.Store)
}{
	{"RoundTrip", testRoundTrip},
	{"GetMissing", testGetMissing},
	{"CreateDuplicate", testCreateDuplicate},
	{"UpdateWrongKey", testUpdateWrongKey},
	{"UpdateStaleSeq", testUpdateStaleSeq},
	{"UpdateMissing", testUpdateMissing},
	{"Update", testUpdate},
	{"Rotation", testRotation},
	{"Delete", testDelete},
	{"DeleteConditions", testDeleteConditions},
	{"ReplayedCreateAfterDelete", testReplayAfterDelete},
	{"ReplayedRotatedKeyAfterDelete", testReplayRotatedKey},
	{"ReplayedOlderOwnerAfterDelete", testReplayOlderOwner},
	{"OtherKeyTakesDeletedName", testOtherKeyTakesName},
	{"Count", testCount},
	{"PurgeExpired", testPurgeExpired},
	{"OddNames", testOddNames},
	{"InvalidRecord", testInvalidRecord},
	{"CanceledContext", testCanceledContext},
	{"ReadYourWrites", testReadYourWrites},
	{"WatchOwnWrites", testWatchOwnWrites},
	{"WatchRefresh", testWatchRefresh},
	{"ConcurrentMixedWrites", testConcurrentMixedWrites},
	{"Scan", testScan},
}

// Key returns a fake 32-byte public key; different b give different keys.
func Key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// Sig returns a fake 64-byte signature that encodes seq, so a test can tell
// which write a stored record came from.
func Sig(seq uint64) []byte {
	s := bytes.Repeat([]byte{0xA5}, 64)
	for i := range 8 {
		s[i] = byte(seq >> (8 * i))
	}
	return s
}

// NewRecord returns a valid record for name, owned by key, at seq.
func NewRecord(name string, key []byte, seq uint64) store.Record {
	return store.Record{
		Name:      name,
		PublicKey: key,
		Addrs:     []string{"127.0.0.1:7000", fmt.Sprintf("[::1]:%d", 7000+seq%1000)},
		Seq:       seq,
		Expires:   time.Unix(2_000_000_000, 0).UTC(),
		Signature: Sig(seq),
	}
}

func ctxFor(t *testing.T) context.Context { return t.Context() }

func mustCreate(t *testing.T, st store.Store, rec store.Record) {
	t.Helper()
	if err := st.Create(ctxFor(t), rec); err != nil {
		t.Fatalf("Create(%q seq %d): %v", rec.Name, rec.Seq, err)
	}
}

func mustGet(t *testing.T, st store.Store, name string) store.Record {
	t.Helper()
	rec, err := st.Get(ctxFor(t), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return rec
}

// wantErr fails unless err wraps want and names the operation.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// assertRecord fails unless got equals want field by field (Expires to the
// second, nil and empty addrs alike).
func assertRecord(t *testing.T, got, want store.Record) {
	t.Helper()
	if got.Name != want.Name {
		t.Errorf("Name = %q, want %q", got.Name, want.Name)
	}
	if !bytes.Equal(got.PublicKey, want.PublicKey) {
		t.Errorf("PublicKey = %x, want %x", got.PublicKey, want.PublicKey)
	}
	if len(got.Addrs) != 0 || len(want.Addrs) != 0 {
		if !slices.Equal(got.Addrs, want.Addrs) {
			t.Errorf("Addrs = %q, want %q", got.Addrs, want.Addrs)
		}
	}
	if got.Seq != want.Seq {
		t.Errorf("Seq = %d, want %d", got.Seq, want.Seq)
	}
	if wantExp := want.Expires.Truncate(time.Second); !got.Expires.Equal(wantExp) {
		t.Errorf("Expires = %v, want %v", got.Expires, wantExp)
	}
	if !bytes.Equal(got.Signature, want.Signature) {
		t.Errorf("Signature = %x, want %x", got.Signature, want.Signature)
	}
}
