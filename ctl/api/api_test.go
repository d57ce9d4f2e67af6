package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMessageJSONFieldNames(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 30, 0, 123456789, time.UTC)
	m := Message{ID: strings.Repeat("ab", 16), Peer: "bob", Direction: DirectionOut, Body: "hi", SentAt: at, State: StateQueued, Seq: 7}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"abababababababababababababababab","peer":"bob","direction":"out","body":"hi","sent_at":"2025-03-01T12:30:00.123456789Z","state":"queued","seq":7}`
	if string(b) != want {
		t.Errorf("Message JSON\n got %s\nwant %s", b, want)
	}
}

func TestErrorIsMatchesCode(t *testing.T) {
	err := fmt.Errorf("send: %w", &Error{Code: CodeUnknownUser, Message: `no user "bobb"`})
	if !errors.Is(err, ErrUnknownUser) {
		t.Error("wrapped unknown_user error is not ErrUnknownUser")
	}
	if errors.Is(err, ErrNotFound) {
		t.Error("unknown_user error matched ErrNotFound")
	}
	var ae *Error
	if !errors.As(err, &ae) || ae.Message != `no user "bobb"` {
		t.Errorf("errors.As lost the message: %v", ae)
	}
}

func TestHTTPStatusRoundTrip(t *testing.T) {
	for _, code := range []string{CodeUnknownUser, CodeNotFound, CodeKeyMismatch, CodeTooLarge, CodeBadRequest, CodeNotDelivered, CodeUnavailable, CodeForbidden, CodeInternal} {
		st := (&Error{Code: code}).HTTPStatus()
		if st < 400 {
			t.Errorf("%s maps to non-error status %d", code, st)
		}
		// Codes that share a status come back as the first code of the
		// pair; all that matters is that the class survives.
		if got := (&Error{Code: CodeForStatus(st)}).HTTPStatus(); got != st {
			t.Errorf("%s: status %d maps back to %d", code, st, got)
		}
	}
	if (&Error{Code: "something_new"}).HTTPStatus() != http.StatusInternalServerError {
		t.Error("unknown code is not a 500")
	}
}

func TestPathsEscapeNames(t *testing.T) {
	cases := map[string]string{
		HistoryPath("bob", 0, 0):   "/v1/history/bob",
		HistoryPath("bob", 20, 99): "/v1/history/bob?before=99&limit=20",
		HistoryPath("a/b", 0, 0):   "/v1/history/a%2Fb",
		ContactPath("x y"):         "/v1/contacts/x%20y",
		VerifyPath("bob"):          "/v1/contacts/bob/verify",
		MessagePath("bob", "00ff"): "/v1/messages/bob/00ff",
		EventsPath(42):             "/v1/events?after=42",
		EventsPath(0):              "/v1/events?after=0",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestDecodeEventLine(t *testing.T) {
	ev, err := DecodeEventLine([]byte(`{"id":3,"type":"message","at":"2025-01-01T00:00:00Z","peer":"bob","message":{"id":"aa","body":"hi"},"future_field":1}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != 3 || ev.Peer != "bob" || ev.Message == nil || ev.Message.Body != "hi" {
		t.Errorf("decoded %+v", ev)
	}
	for _, hb := range []string{"", "\n", string(HeartbeatLine)} {
		if _, err := DecodeEventLine([]byte(hb)); !errors.Is(err, ErrHeartbeat) {
			t.Errorf("%q: got %v, want ErrHeartbeat", hb, err)
		}
	}
	for _, bad := range []string{`{"id":0,"type":"message"}`, `{"id":1}`, `{"id":1,"type":"x"} {}`, `[`, `null`} {
		if _, err := DecodeEventLine([]byte(bad)); err == nil || errors.Is(err, ErrHeartbeat) {
			t.Errorf("%q: got %v, want a decode error", bad, err)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	var req SendRequest
	if err := DecodeStrict(strings.NewReader(`{"to":"bob","body":"hi"}`), &req); err != nil || req.To != "bob" {
		t.Fatalf("valid request: %v %+v", err, req)
	}
	for _, bad := range []string{`{"to":"bob","bdy":"hi"}`, `{"to":"bob"}{}`, `{"to":`, ``} {
		if err := DecodeStrict(strings.NewReader(bad), &req); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzDecodeEventLine(f *testing.F) {
	f.Add([]byte(`{"id":3,"type":"message","at":"2025-01-01T00:00:00Z","peer":"bob","message":{"id":"aa","body":"hi"}}`))
	f.Add([]byte(`{"id":9,"type":"presence","peer":"bob","online":true,"addr":"127.0.0.1:1"}`))
	f.Add(HeartbeatLine)
	f.Add([]byte(`{"id":-1,"type":"x"}`))
	f.Add([]byte(`{"at":"not a time","id":1,"type":"x"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := DecodeEventLine(line)
		if err == nil && (ev.ID < 1 || ev.Type == "" || ev.Type == EventHeartbeat) {
			t.Fatalf("accepted invalid event %+v", ev)
		}
		if err != nil {
			return
		}
		// What we accept, we can write back and read again unchanged.
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		ev2, err := DecodeEventLine(b)
		if err != nil || ev2.ID != ev.ID || ev2.Type != ev.Type {
			t.Fatalf("round trip: %v %+v vs %+v", err, ev2, ev)
		}
		if b2, _ := json.Marshal(ev2); !bytes.Equal(b, b2) {
			t.Fatalf("decode/encode not stable:\n%s\n%s", b, b2)
		}
	})
}

// FuzzDecodeStrict decodes arbitrary request bodies as each request type
// the control server reads: what is accepted is one valid JSON value and
// survives re-encoding unchanged; what is refused is an error, never a
// half-filled request passed off as success.
func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte(`{"to":"bob","body":"hi"}`))
	f.Add([]byte(`{"name":"bob"}`))
	f.Add([]byte(`{"fingerprint":"abcd-efgh"}`))
	f.Add([]byte(`{"to":"bob","body":"hi"} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(v, again any) {
			if err := DecodeStrict(bytes.NewReader(data), v); err != nil {
				return
			}
			if !json.Valid(data) {
				t.Fatalf("accepted %q, which is not one JSON value", data)
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeStrict(bytes.NewReader(enc), again); err != nil || !reflect.DeepEqual(reflect.ValueOf(v).Elem().Interface(), reflect.ValueOf(again).Elem().Interface()) {
				t.Fatalf("%q re-encoded as %s does not decode the same: %v", data, enc, err)
			}
		}
		check(new(SendRequest), new(SendRequest))
		check(new(AddContactRequest), new(AddContactRequest))
		check(new(VerifyRequest), new(VerifyRequest))
		check(new(InitRequest), new(InitRequest))
		check(new(BlockRequest), new(BlockRequest))
	})
}
