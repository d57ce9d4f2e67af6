package peer

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/wire"
)

// chunkConn hands out data in the chunk sizes cuts lists (cycling; 0
// counts as 1), as a TLS connection hands out records. With eofWithData
// the last chunk comes with io.EOF, which io.Reader allows.
type chunkConn struct {
	data        []byte
	cuts        []byte
	i           int
	eofWithData bool
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.cuts) > 0 {
		n = max(int(c.cuts[c.i%len(c.cuts)]), 1)
		c.i++
	}
	n = copy(p, c.data[:min(n, len(c.data))])
	c.data = c.data[n:]
	if len(c.data) == 0 && c.eofWithData {
		return n, io.EOF
	}
	return n, nil
}

// FuzzFrameReader reads the same stream through two frameReaders at once,
// each cut into reads of its own sizes, taking turns so that they hand the
// pooled buffer back and forth. Both must give exactly what a plain
// wire.Reader gives, frame for frame and error for error, and the frames
// must still be intact once the buffers have been reused.
func FuzzFrameReader(f *testing.F) {
	var stream bytes.Buffer
	w := wire.NewWriter(&stream)
	w.WriteFrame(wire.Hello{Versions: wire.Versions(), Name: "alice"})
	w.WriteFrame(wire.Msg{SentAt: time.Unix(1700000000, 0), Body: []byte("hello bob")})
	w.WriteFrame(wire.Ack{IDs: [][16]byte{{1}}})
	w.WriteFrame(wire.Ping{Nonce: 7})
	w.Flush()
	frames := stream.Bytes()
	f.Add(frames, []byte{1}, []byte{3, 200})
	f.Add(frames, []byte{255}, []byte{0})
	f.Add(frames[:len(frames)-3], []byte{7}, []byte{}) // truncated
	big, _ := wire.AppendFrame(nil, wire.Msg{Body: bytes.Repeat([]byte("x"), 6000)})
	f.Add(append(big, frames...), []byte{255, 1}, []byte{100})
	f.Add([]byte{byte(wire.TypeMsg), 0xff, 0xff, 0xff, 0xff}, []byte{2}, []byte{2})
	f.Fuzz(func(t *testing.T, data, cutsA, cutsB []byte) {
		want, wantErr := readAllFrames(wire.NewReader(bytes.NewReader(data)))
		a := newFrameReader(&chunkConn{data: data, cuts: cutsA, eofWithData: len(cutsA)%2 == 1})
		b := newFrameReader(&chunkConn{data: data, cuts: cutsB, eofWithData: len(cutsB)%2 == 1})
		var gotA, gotB []wire.Frame
		var errA, errB error
		for errA == nil || errB == nil {
			if errA == nil {
				gotA, errA = readOne(a, gotA)
			}
			if errB == nil {
				gotB, errB = readOne(b, gotB)
			}
		}
		for name, got := range map[string][]wire.Frame{"A": gotA, "B": gotB} {
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("reader %s read %d frames %v, wire.Reader %d %v", name, len(got), got, len(want), want)
			}
		}
		for name, err := range map[string]error{"A": errA, "B": errB} {
			if !sameWireError(err, wantErr) {
				t.Fatalf("reader %s ended with %v, wire.Reader with %v", name, err, wantErr)
			}
		}
	})
}

func readOne(r *frameReader, got []wire.Frame) ([]wire.Frame, error) {
	fr, err := r.ReadFrame()
	if err != nil {
		return got, err
	}
	return append(got, fr), nil
}

func readAllFrames(r *wire.Reader) ([]wire.Frame, error) {
	var out []wire.Frame
	for {
		fr, err := r.ReadFrame()
		if err != nil {
			return out, err
		}
		out = append(out, fr)
	}
}

func sameWireError(a, b error) bool {
	for _, s := range []error{io.EOF, io.ErrUnexpectedEOF, wire.ErrMalformed, wire.ErrUnknownType, wire.ErrFrameTooLarge} {
		if errors.Is(a, s) || errors.Is(b, s) {
			return errors.Is(a, s) && errors.Is(b, s)
		}
	}
	return false
}
