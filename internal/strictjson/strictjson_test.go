package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type T struct{ A int }
	var v T
	if err := Decode(strings.NewReader(` {"A": 1} `), &v); err != nil || v.A != 1 {
		t.Fatalf("good input: %v %+v", err, v)
	}
	for in, want := range map[string]error{
		``:                io.EOF,
		`{"A":1} {"A":2}`: ErrTrailing,
		`{"A":1} x`:       nil, // a syntax error from encoding/json
		`{"B":1}`:         nil, // unknown field
		`{"A":"x"}`:       nil, // wrong type
	} {
		err := Decode(strings.NewReader(in), &v)
		if err == nil || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%q: got %v, want an error (%v)", in, err, want)
		}
	}
}

// FuzzDecode: Decode accepts exactly the inputs that are one valid JSON
// value (whitespace aside) naming only known fields, and then gives what
// encoding/json gives; what it accepts, re-encoded, decodes to the same
// value; empty input is io.EOF.
func FuzzDecode(f *testing.F) {
	type inner struct{ B bool }
	type T struct {
		A int
		S string
		L []string
		P *inner
		M map[string]int
	}
	f.Add([]byte(`{"A":1}`))
	f.Add([]byte(`{"A":1}{}`))
	f.Add([]byte(` {"A":-1,"S":"\u00e9\ud800","L":["x",""],"P":{"B":true},"M":{"k":2}} ` + "\n"))
	f.Add([]byte(`{"A":1,"C":2}`))
	f.Add([]byte(`{"P":{"B":true,"X":1}}`))
	f.Add([]byte(`{"a":1,"A":2}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"A":1} x`))
	f.Add([]byte(" \t\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v T
		err := Decode(bytes.NewReader(b), &v)
		if len(bytes.Trim(b, " \t\r\n")) == 0 {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("empty input %q: %v, want io.EOF", b, err)
			}
			return
		}
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, which is not one JSON value", b)
		}
		var loose T
		if err := json.Unmarshal(b, &loose); err != nil || !reflect.DeepEqual(v, loose) {
			t.Fatalf("%q: strict %+v, encoding/json %+v (%v)", b, v, loose, err)
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var again T
		if err := Decode(bytes.NewReader(enc), &again); err != nil || !reflect.DeepEqual(v, again) {
			t.Fatalf("%q re-encoded as %s decodes to %+v, %v", b, enc, again, err)
		}
	})
}
