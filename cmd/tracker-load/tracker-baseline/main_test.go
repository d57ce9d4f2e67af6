package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBareBody(t *testing.T) {
	if len(bareBody) != 200 {
		t.Fatalf("the bare body is %d bytes, want 200", len(bareBody))
	}
	w := httptest.NewRecorder()
	bare(w, httptest.NewRequest("GET", "/v1/users/alice", nil))
	if w.Code != http.StatusOK || w.Body.Len() != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("bare answered %d %q %q", w.Code, w.Header(), w.Body)
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	if err := run([]string{"serve", "--listen", "0.0.0.0:0"}); err == nil {
		t.Fatal("serve on 0.0.0.0 was accepted")
	}
}

func TestVerifyRate(t *testing.T) {
	if r := verifyRate(50 * time.Millisecond); r < 100 {
		t.Fatalf("verifyRate = %.0f/s", r)
	}
}

// TestStdiscoIDs: an ID is the device number in 8 base32 digits, then a
// fixed suffix, as the benchmark's wrk script makes them.
func TestStdiscoIDs(t *testing.T) {
	suffix := StdiscoDeviceID(0)[8:]
	for _, i := range []int{0, 1, 31, 32, 999_999, 1<<40 - 1} {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
		var digits []byte
		for k := 7; k >= 0; k-- {
			digits = append(digits, alphabet[(i>>(5*k))&31])
		}
		if got, want := StdiscoDeviceID(i), string(digits)+suffix; got != want {
			t.Errorf("device %d: ID %s, want %s", i, got, want)
		}
	}
}

func TestStdiscoDB(t *testing.T) {
	dir := t.TempDir()
	if err := writeStdiscoDB(dir, 3); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "records.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	// Three length-prefixed records, each with the key's field first.
	for range 3 {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		rec := b[4 : 4+n]
		if rec[0] != 0x0a || rec[1] != 32 || !strings.Contains(string(rec), "tcp://127.0.0.1:") {
			t.Fatalf("record % x", rec)
		}
		b = b[4+n:]
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the records", len(b))
	}
}
