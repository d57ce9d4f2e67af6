package wire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"net/netip"
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
		"version 2":     {[]byte{2, 1, 0, 0}, ErrVersion},
		"type 0":        {[]byte{1, 0, 0, 0}, ErrType},
		"type 12":       {[]byte{1, 12, 0, 0}, ErrType},
		"too large":     {[]byte{1, 7, 0x02, 0x01}, ErrTooLarge},
		"short header":  {[]byte{1, 7}, io.ErrUnexpectedEOF},
		"short payload": {[]byte{1, 8, 0, 32, 1}, io.ErrUnexpectedEOF},
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

func TestTranscriptSeparatesRoles(t *testing.T) {
	k := make(ed25519.PublicKey, 32)
	n := make([]byte, NonceSize)
	if bytes.Equal(Transcript("client", k, k, n, n), Transcript("relay", k, k, n, n)) {
		t.Fatal("client and relay transcripts are equal")
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
	f.Add(Append(Append(nil, Ping, nil), Reserved, ReservedMsg{Sig: make([]byte, 64), KeepAliveMS: 10000}.Encode()))
	f.Add([]byte{1, 7, 0xff, 0xff})
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
			case Challenge:
				if m, err := ParseChallenge(fr.Payload); err == nil && !bytes.Equal(m.Encode(), fr.Payload) {
					t.Fatal("challenge does not round-trip")
				}
			case Auth:
				if m, err := ParseAuth(fr.Payload); err == nil && !bytes.Equal(m.Encode(), fr.Payload) {
					t.Fatal("auth does not round-trip")
				}
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
