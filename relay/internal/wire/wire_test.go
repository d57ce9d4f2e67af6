package wire

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := IncomingMsg{Token: Token{1, 2, 3}, From: netip.MustParseAddrPort("[2001:db8::1]:7000")}
	var buf bytes.Buffer
	if err := Write(&buf, Incoming, in.Encode()); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("stream") // what follows a frame must stay unread
	f, err := Read(&buf)
	if err != nil || f.Type != Incoming {
		t.Fatalf("read: %v %v", f.Type, err)
	}
	got, err := ParseIncoming(f.Payload)
	if err != nil || got != in {
		t.Fatalf("incoming %+v %v, want %+v", got, err, in)
	}
	if rest, _ := io.ReadAll(&buf); string(rest) != "stream" {
		t.Fatalf("Read consumed past the frame: left %q", rest)
	}
}

func TestReadRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"version 1":     {[]byte{1, 1, 0, 0}, ErrVersion},
		"version 3":     {[]byte{3, 1, 0, 0}, ErrVersion},
		"tls record":    {[]byte{22, 3, 1, 0, 5}, ErrVersion},
		"type 0":        {[]byte{2, 0, 0, 0}, ErrType},
		"type 10":       {[]byte{2, 10, 0, 0}, ErrType},
		"too large":     {[]byte{2, 5, 0x02, 0x01}, ErrTooLarge},
		"short header":  {[]byte{2, 5}, io.ErrUnexpectedEOF},
		"short payload": {[]byte{2, 6, 0, 32, 1}, io.ErrUnexpectedEOF},
	} {
		if _, err := Read(bytes.NewReader(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestErrorFrames(t *testing.T) {
	err := Expect(Frame{Type: Error, Payload: ErrorPayload(CodeLimit, "sessions_per_source")}, OK)
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != CodeLimit || re.Detail != "sessions_per_source" {
		t.Fatalf("got %v", err)
	}
	if err := ParseError([]byte("Bad code")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad code: %v", err)
	}
	if err := Expect(Frame{Type: Pong}, OK); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unexpected type: %v", err)
	}
}

// TestV1Refusal: the frame that refuses a version-1 client is one that
// client reads as a refusal (version 1's header, its Error type, a
// payload its ParseError accepts), and ReadV1 reads it back.
func TestV1Refusal(t *testing.T) {
	b := V1Refusal()
	if b[0] != 1 || b[1] != 11 || int(b[2])<<8|int(b[3]) != len(b)-HeaderSize {
		t.Fatalf("header % x is not version 1's error frame", b[:HeaderSize])
	}
	f, err := ReadV1(bytes.NewReader(b))
	if err != nil || !IsV1Error(f) {
		t.Fatalf("ReadV1: %v %v", f.Type, err)
	}
	var re *RefusedError
	if err := ParseError(f.Payload); !errors.As(err, &re) || re.Code != CodeVersion || !strings.Contains(re.Detail, "upgrade") {
		t.Fatalf("payload %q: %v", f.Payload, err)
	}
}

// FuzzRead decodes arbitrary bytes as a sequence of frames and each frame
// as its message; nothing may panic, every frame read must encode back to
// the bytes it came from, every message that parses must encode back to
// its payload, and a read error wraps one of the sentinels.
func FuzzRead(f *testing.F) {
	f.Add(Append(nil, Connect, make([]byte, 32)))
	f.Add(Append(nil, Incoming, IncomingMsg{From: netip.MustParseAddrPort("192.0.2.1:7")}.Encode()))
	f.Add(Append(nil, Error, ErrorPayload(CodeLimit, "max_sessions")))
	f.Add(Append(Append(nil, Ping, nil), Reserved, ReservedMsg{KeepAliveMS: 10000}.Encode()))
	f.Add([]byte{Version, byte(Incoming), 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			start := len(data) - r.Len()
			fr, err := Read(r)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrVersion) &&
					!errors.Is(err, ErrType) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("read error %v wraps no sentinel", err)
				}
				return
			}
			end := len(data) - r.Len()
			if enc := Append(nil, fr.Type, fr.Payload); !bytes.Equal(enc, data[start:end]) {
				t.Fatalf("frame re-encodes as %x, read from %x", enc, data[start:end])
			}
			switch fr.Type {
			case Reserved:
				if m, err := ParseReserved(fr.Payload); err == nil && !bytes.Equal(m.Encode(), fr.Payload) {
					t.Fatal("reserved does not round-trip")
				}
			case Incoming:
				if m, err := ParseIncoming(fr.Payload); err == nil {
					if m2, err := ParseIncoming(m.Encode()); err != nil || m2 != m {
						t.Fatalf("incoming does not round-trip: %v", err)
					}
				}
			case Connect:
				if k, err := ParseConnect(fr.Payload); (err == nil) != (len(fr.Payload) == 32) || (err == nil && !bytes.Equal(k, fr.Payload)) {
					t.Fatalf("connect %x parsed as %x, %v", fr.Payload, k, err)
				}
			case Accept:
				if tok, err := ParseAccept(fr.Payload); (err == nil) != (len(fr.Payload) == TokenSize) || (err == nil && !bytes.Equal(tok[:], fr.Payload)) {
					t.Fatalf("accept %x parsed as %x, %v", fr.Payload, tok, err)
				}
			case Error:
				var re *RefusedError
				if err := ParseError(fr.Payload); errors.As(err, &re) && !bytes.Equal(ErrorPayload(re.Code, re.Detail), fr.Payload) {
					t.Fatalf("error frame %q does not round-trip", fr.Payload)
				}
			}
		}
	})
}

// FuzzReadV1 reads arbitrary bytes as one version-1 frame, as a relay
// does with a version-1 client's first frame and a client with a
// version-1 relay's answer: nothing panics, a read error wraps a
// sentinel, and a frame read is exactly the bytes it came from.
func FuzzReadV1(f *testing.F) {
	f.Add(V1Refusal())
	f.Add([]byte{1, 1, 0, 0})
	f.Add(append([]byte{1, 8, 0, 32}, make([]byte, 32)...))
	f.Add([]byte("\x01\x0b\x00\x0bbad_request"))
	f.Add([]byte{1, 12, 0, 0})
	f.Add([]byte{1, 11, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		fr, err := ReadV1(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrVersion) &&
				!errors.Is(err, ErrType) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("read error %v wraps no sentinel", err)
			}
			return
		}
		n := len(data) - r.Len()
		if n != HeaderSize+len(fr.Payload) || data[0] != V1 || Type(data[1]) != fr.Type ||
			!bytes.Equal(data[HeaderSize:n], fr.Payload) {
			t.Fatalf("frame %v %x read from %x", fr.Type, fr.Payload, data[:n])
		}
		if IsV1Error(fr) != (data[1] == 11) {
			t.Fatalf("IsV1Error(type %d) = %v", data[1], IsV1Error(fr))
		}
	})
}
