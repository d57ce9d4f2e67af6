package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/p2pchat/p2pchat/internal/strictjson"
)

// HeartbeatLine is what the server writes on a quiet event stream.
var HeartbeatLine = []byte(`{"type":"heartbeat"}` + "\n")

// MaxEventLine bounds one line of the event stream. The largest event is a
// message event with a MaxBodyBytes body whose every byte JSON escapes to six.
const MaxEventLine = 8*MaxBodyBytes + 4096

// ErrHeartbeat is returned by DecodeEventLine for a heartbeat (or a blank
// line): not an event, but proof the daemon is alive.
var ErrHeartbeat = errors.New("heartbeat")

// DecodeEventLine parses one line of the event stream. Unknown fields are
// ignored so that an older client can read a newer daemon's events; an
// event without a type or with an ID below 1 is an error.
func DecodeEventLine(line []byte) (Event, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return Event{}, ErrHeartbeat
	}
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, errors.New("decode event: trailing data after the object")
	}
	if ev.Type == EventHeartbeat {
		return Event{}, ErrHeartbeat
	}
	if ev.Type == "" {
		return Event{}, errors.New("decode event: no type")
	}
	if ev.ID < 1 {
		return Event{}, fmt.Errorf("decode event: bad id %d", ev.ID)
	}
	return ev, nil
}

// DecodeStrict decodes a request body: exactly one JSON value from r into
// v, refusing unknown fields and trailing data (internal/strictjson).
func DecodeStrict(r io.Reader, v any) error { return strictjson.Decode(r, v) }
