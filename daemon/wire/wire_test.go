package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleFrames() []Frame {
	id := func(b byte) (x [16]byte) {
		for i := range x {
			x[i] = b + byte(i)
		}
		return x
	}
	return []Frame{
		Hello{Versions: []uint16{1}, Name: "alice"},
		Hello{Versions: []uint16{1, 2, 7}, Features: 0xdeadbeef, Name: strings.Repeat("ü", MaxName/2)},
		Msg{ID: id(1), SentAt: time.Unix(1700000000, 123456789).UTC(), Body: []byte("hi bob")},
		Msg{ID: id(2), Body: []byte{}},
		Msg{ID: id(3), SentAt: time.Unix(0, -5).UTC(), Body: bytes.Repeat([]byte{0xAB}, MaxBody)},
		Ack{IDs: [][16]byte{id(1)}},
		Ack{IDs: [][16]byte{id(1), id(2), id(3)}},
		Ping{Nonce: 42},
		Pong{Nonce: 1<<64 - 1},
		Bye{},
		Bye{Reason: "shutting down"},
		Connect{Addrs: []string{}},
		Connect{DialMe: true, Addrs: []string{"11.0.0.2:7171", "[2001:db8::1]:7171", "192.168.1.2:7171"}},
		Sync{},
	}
}

func TestRoundTripEveryFrameType(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	frames := sampleFrames()
	for _, f := range frames {
		if err := w.WriteFrame(f); err != nil {
			t.Fatalf("WriteFrame(%v): %v", f.Type(), err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&stream)
	for _, want := range frames {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("ReadFrame (want %v): %v", want.Type(), err)
		}
		if m, ok := want.(Msg); ok && len(m.Body) == 0 {
			m.Body = got.(Msg).Body // nil vs empty is not a wire difference
			want = m
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read %#v, want %#v", got, want)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func TestMsgBodySurvivesNextRead(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	w.WriteFrame(Msg{Body: []byte("first")})
	w.WriteFrame(Msg{Body: []byte("second")})
	w.Flush()
	r := NewReader(&stream)
	a, _ := r.ReadFrame()
	r.ReadFrame()
	if got := string(a.(Msg).Body); got != "first" {
		t.Fatalf("first body changed to %q after reading the next frame", got)
	}
}

func frameBytes(t Type, payload []byte) []byte {
	b := []byte{byte(t)}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func TestReadRefusesMalformed(t *testing.T) {
	okHello := Hello{Versions: []uint16{1}, Name: "bob"}.appendPayload(nil)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"unknown type 0", frameBytes(0, nil), ErrUnknownType},
		{"unknown type 99", frameBytes(99, []byte{1, 2}), ErrUnknownType},
		{"oversized length", append([]byte{byte(TypeMsg)}, binary.BigEndian.AppendUint32(nil, MaxFrame+1)...), ErrFrameTooLarge},
		{"huge length", []byte{byte(TypeMsg), 0xff, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"hello empty", frameBytes(TypeHello, nil), ErrMalformed},
		{"hello no versions", frameBytes(TypeHello, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ErrMalformed},
		{"hello short", frameBytes(TypeHello, okHello[:5]), ErrMalformed},
		{"hello name length lies", frameBytes(TypeHello, append(okHello, 'x')), ErrMalformed},
		{"hello bad utf8", frameBytes(TypeHello, append(okHello[:len(okHello)-4], 3, 0xff, 0xfe, 0xfd)), ErrMalformed},
		{"msg short", frameBytes(TypeMsg, make([]byte, 23)), ErrMalformed},
		{"msg body too large", frameBytes(TypeMsg, make([]byte, msgFixedLen+MaxBody+1)), ErrMalformed},
		{"ack empty", frameBytes(TypeAck, []byte{0, 0}), ErrMalformed},
		{"ack short", frameBytes(TypeAck, []byte{0}), ErrMalformed},
		{"ack count lies", frameBytes(TypeAck, append([]byte{0, 2}, make([]byte, 16)...)), ErrMalformed},
		{"ping short", frameBytes(TypePing, make([]byte, 7)), ErrMalformed},
		{"pong long", frameBytes(TypePong, make([]byte, 9)), ErrMalformed},
		{"bye bad utf8", frameBytes(TypeBye, []byte{0xff}), ErrMalformed},
		{"bye too long", frameBytes(TypeBye, bytes.Repeat([]byte("a"), MaxReason+1)), ErrMalformed},
		{"truncated header", []byte{byte(TypePing), 0, 0}, io.ErrUnexpectedEOF},
		{"truncated payload", frameBytes(TypePing, make([]byte, 8))[:9], io.ErrUnexpectedEOF},
		{"truncated large payload", frameBytes(TypeMsg, make([]byte, 10000))[:6000], io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		_, err := NewReader(bytes.NewReader(c.data)).ReadFrame()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) { c.writes++; return c.Buffer.Write(p) }

func TestWriterBatchesFramesIntoOneWrite(t *testing.T) {
	var cw countingWriter
	w := NewWriter(&cw)
	for i := range 100 {
		if err := w.WriteFrame(Msg{SentAt: time.Now(), Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if cw.writes != 0 {
		t.Fatalf("%d writes before Flush, want 0", cw.writes)
	}
	w.Flush()
	if cw.writes != 1 {
		t.Fatalf("Flush of 100 small frames made %d writes, want 1", cw.writes)
	}
	if w.Buffered() != 0 {
		t.Fatalf("Buffered after Flush = %d", w.Buffered())
	}
}

func TestWriterRefusesOversizedBodyBeforeSending(t *testing.T) {
	var cw countingWriter
	w := NewWriter(&cw)
	w.WriteFrame(Ping{Nonce: 1})
	err := w.WriteFrame(Msg{Body: make([]byte, MaxBody+1)})
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
	if !errors.Is(CheckBody(make([]byte, MaxBody+1)), ErrBodyTooLarge) || CheckBody(make([]byte, MaxBody)) != nil {
		t.Fatal("CheckBody disagrees with MaxBody")
	}
	// The refused frame left nothing behind and the writer still works.
	if err := w.WriteFrame(Pong{Nonce: 2}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	r := NewReader(&cw.Buffer)
	for _, want := range []Frame{Ping{Nonce: 1}, Pong{Nonce: 2}} {
		if got, err := r.ReadFrame(); err != nil || got != want {
			t.Fatalf("read %v, %v; want %v", got, err, want)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("extra data after refused frame: %v", err)
	}
}

func TestWriterRefusesBrokenFrames(t *testing.T) {
	w := NewWriter(io.Discard)
	bad := []Frame{
		Hello{Name: "x"},
		Hello{Versions: []uint16{1}, Name: strings.Repeat("a", MaxName+1)},
		Ack{},
		Ack{IDs: make([][16]byte, MaxAckIDs+1)},
		Bye{Reason: strings.Repeat("a", MaxReason+1)},
	}
	for _, f := range bad {
		if err := w.WriteFrame(f); err == nil {
			t.Errorf("WriteFrame(%v) accepted a frame the reader would refuse", f.Type())
		}
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriterErrorIsSticky(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(failingWriter{boom})
	w.WriteFrame(Ping{})
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v", err)
	}
	if err := w.WriteFrame(Ping{}); !errors.Is(err, boom) {
		t.Fatalf("WriteFrame after failure = %v, want the write error", err)
	}
}

func TestFrameBuffered(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	w.WriteFrame(Ping{Nonce: 1})
	w.WriteFrame(Ping{Nonce: 2})
	w.Flush()
	data := stream.Bytes()
	// One and a half frames available: the first is whole, the second not.
	pr, pw := io.Pipe()
	go func() { pw.Write(data[:HeaderLen+8+3]) }()
	r := NewReader(pr)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if r.FrameBuffered() {
		t.Fatal("FrameBuffered with only part of the next frame")
	}
	go func() { pw.Write(data[HeaderLen+8+3:]); pw.Close() }()
	if f, err := r.ReadFrame(); err != nil || f != (Ping{Nonce: 2}) {
		t.Fatalf("second frame: %v %v", f, err)
	}
	r2 := NewReader(bytes.NewReader(data))
	r2.ReadFrame()
	if !r2.FrameBuffered() {
		t.Fatal("FrameBuffered false with a whole frame buffered")
	}
}

func TestNegotiate(t *testing.T) {
	if v, err := Negotiate([]uint16{1, 2, 3}, []uint16{5, 2, 1}); err != nil || v != 2 {
		t.Fatalf("Negotiate = %d, %v; want 2", v, err)
	}
	_, err := Negotiate([]uint16{1}, []uint16{2, 3})
	if !errors.Is(err, ErrNoCommonVersion) || !strings.Contains(err.Error(), "[2 3]") {
		t.Fatalf("no common version: %v", err)
	}
}

// FuzzReadFrame reads arbitrary streams frame by frame (the v2 Connect and
// Sync payloads included): every frame read is canonical (encodes back to
// the bytes it came from) and within MaxFrame, and every failure wraps one
// of the documented decoding errors.
func FuzzReadFrame(f *testing.F) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	for _, fr := range sampleFrames() {
		w.WriteFrame(fr)
		w.Flush()
		f.Add(append([]byte{}, stream.Bytes()...))
		stream.Reset()
	}
	f.Add([]byte{byte(TypeMsg), 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{byte(TypeAck), 0, 0, 0, 2, 0, 1})
	f.Add([]byte{})
	isDecodeError := func(err error) bool {
		for _, s := range []error{io.EOF, io.ErrUnexpectedEOF, ErrMalformed, ErrUnknownType, ErrFrameTooLarge} {
			if errors.Is(err, s) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		r := NewReaderSize(src, 64) // small, to exercise the large-frame path
		var again []byte
		for {
			before := len(data) - src.Len() - r.Buffered()
			fr, err := r.ReadFrame()
			if err != nil {
				if !isDecodeError(err) {
					t.Fatalf("error %v wraps none of the decoding errors", err)
				}
				return
			}
			consumed := data[before : len(data)-src.Len()-r.Buffered()]
			if len(consumed) > HeaderLen+MaxFrame {
				t.Fatalf("frame of %d bytes accepted", len(consumed))
			}
			again, err = AppendFrame(again[:0], fr)
			if err != nil {
				t.Fatalf("decoded %v does not re-encode: %v", fr.Type(), err)
			}
			if !bytes.Equal(again, consumed) {
				t.Fatalf("%v does not round-trip:\n in  %x\n out %x", fr.Type(), consumed, again)
			}
		}
	})
}
