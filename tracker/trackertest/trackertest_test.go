package trackertest_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func TestTrackerServesAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("run", func(t *testing.T) {
		tr := trackertest.New(t, trackertest.WithReannounce(0.5, time.Second, time.Hour))
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
		s, err := record.Sign(record.Record{Name: "alice", PublicKey: priv.Public().(ed25519.PublicKey),
			Seq: 1, Expires: time.Now().Add(time.Hour)}, priv)
		if err != nil {
			t.Fatal(err)
		}
		ann, err := tr.Client().Register(context.Background(), s)
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		if ann.ReannounceAfter < 29*time.Minute || ann.ReannounceAfter > 30*time.Minute {
			t.Errorf("reannounce after %v, want half an hour (WithReannounce)", ann.ReannounceAfter)
		}
		if n, err := tr.Store().Count(context.Background()); err != nil || n != 1 {
			t.Errorf("store holds %d records (%v), want 1", n, err)
		}
		tr.Close()
		tr.Close()
		if _, _, err := tr.Client().Lookup(context.Background(), "alice"); err == nil || errors.Is(err, client.ErrNotFound) {
			t.Errorf("lookup after Close: %v, want a connection error", err)
		}
	})
	for i := 0; i < 250 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left after the tracker stopped", n-before)
	}
}

func TestInjectedStoreStaysOpen(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "own.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := trackertest.New(t, trackertest.WithStore(st))
	tr.Close()
	if _, err := st.Count(context.Background()); err != nil {
		t.Fatalf("the injected store was closed by the tracker: %v", err)
	}
}
