package peer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/p2pchat/p2pchat/daemon/wire"
)

// chunkReader hands out its chunks as the network would: each Read
// returns at most the rest of one chunk. With lastErr set, the last chunk
// comes with that error (as crypto/tls returns data and io.EOF together
// when close_notify follows it).
type chunkReader struct {
	chunks  [][]byte
	lastErr error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if len(c.chunks[0]) > 0 {
		return n, nil
	}
	c.chunks = c.chunks[1:]
	if len(c.chunks) == 0 && c.lastErr != nil {
		return n, c.lastErr
	}
	return n, nil
}

func msgFrames(t *testing.T, tag string, n int) ([]byte, []string) {
	t.Helper()
	var b []byte
	var bodies []string
	for i := range n {
		body := fmt.Sprintf("%s message %d", tag, i)
		var err error
		if b, err = wire.AppendFrame(b, wire.Msg{ID: [16]byte{byte(i)}, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	return b, bodies
}

func readBodies(t *testing.T, r *frameReader, n int) [][]byte {
	t.Helper()
	var got [][]byte
	for range n {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", len(got), err)
		}
		got = append(got, f.(wire.Msg).Body)
	}
	return got
}

func TestFrameReaderKeepsNoBufferWhileIdle(t *testing.T) {
	a, wantA := msgFrames(t, "alice", 3)
	b, wantB := msgFrames(t, "bob", 3)
	// Alice's second frame is split across two reads, as TLS records may
	// split it; bob's frames arrive together.
	ra := newFrameReader(&chunkReader{chunks: [][]byte{a[:len(a)/2], a[len(a)/2:]}})
	rb := newFrameReader(&chunkReader{chunks: [][]byte{b}})

	gotA := readBodies(t, ra, 3)
	if ra.cur != nil {
		t.Fatal("alice's reader keeps its buffer with nothing left to decode")
	}
	// Bob's connection now gets the buffer alice used; what alice's
	// frames hold must not change.
	f, err := rb.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if !rb.FrameBuffered() {
		t.Fatal("frames that arrived together are not seen as buffered, so they would not be batched")
	}
	gotB := append([][]byte{f.(wire.Msg).Body}, readBodies(t, rb, 2)...)
	for i := range 3 {
		if string(gotA[i]) != wantA[i] || string(gotB[i]) != wantB[i] {
			t.Fatalf("frame %d: got %q and %q, want %q and %q", i, gotA[i], gotB[i], wantA[i], wantB[i])
		}
	}
	if _, err := ra.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end of alice's stream: %v, want EOF", err)
	}
}

func TestFrameReaderDataWithErrorThenNextConnection(t *testing.T) {
	a, wantA := msgFrames(t, "alice", 2)
	// Data and EOF in one read, the first byte alone in the reader's
	// idle read.
	ra := newFrameReader(&chunkReader{chunks: [][]byte{a[:1], a[1:]}, lastErr: io.EOF})
	got := readBodies(t, ra, 2)
	for i := range got {
		if string(got[i]) != wantA[i] {
			t.Fatalf("frame %d is %q, want %q", i, got[i], wantA[i])
		}
	}
	if _, err := ra.ReadFrame(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
	// A reader that saw an error must not pass it on to another
	// connection.
	b, wantB := msgFrames(t, "bob", 1)
	rb := newFrameReader(bytes.NewReader(b))
	if got := readBodies(t, rb, 1); string(got[0]) != wantB[0] {
		t.Fatalf("bob's frame is %q, want %q", got[0], wantB[0])
	}
}

func TestFrameReaderTruncatedFrame(t *testing.T) {
	a, _ := msgFrames(t, "alice", 1)
	r := newFrameReader(bytes.NewReader(a[:len(a)-1]))
	if _, err := r.ReadFrame(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("stream ending inside a frame: %v, want unexpected EOF", err)
	}
}
