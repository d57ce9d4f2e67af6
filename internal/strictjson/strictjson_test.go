package strictjson

import (
	"errors"
	"io"
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

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"A":1}`))
	f.Add([]byte(`{"A":1}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v struct{ A int }
		if Decode(strings.NewReader(string(b)), &v) == nil && strings.TrimSpace(string(b)) == "" {
			t.Fatal("empty input accepted")
		}
	})
}
