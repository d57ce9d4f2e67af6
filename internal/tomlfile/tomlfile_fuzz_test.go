package tomlfile

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// textDuration reads "15s" through encoding.TextUnmarshaler, as chatd's
// config.Duration does.
type textDuration struct{ time.Duration }

func (d *textDuration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

func (d textDuration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// fuzzConfig has a field of every kind our three config files use.
type fuzzConfig struct {
	Name    string        `toml:"name"`
	Port    uint16        `toml:"port"`
	Count   int           `toml:"count"`
	Big     int64         `toml:"big"`
	Rate    float64       `toml:"rate"`
	On      bool          `toml:"on"`
	List    []string      `toml:"list"`
	TTL     time.Duration `toml:"ttl"`
	Every   textDuration  `toml:"every"`
	Section struct {
		Key   string       `toml:"key"`
		Wait  textDuration `toml:"wait"`
		Ports []uint16     `toml:"ports"`
	} `toml:"section"`
}

func defaultFuzzConfig() fuzzConfig {
	c := fuzzConfig{Name: "default", Port: 7171, Rate: 1.5, On: true, List: []string{"a"}, TTL: time.Hour}
	c.Every.Duration = time.Minute
	c.Section.Key = "k"
	return c
}

// FuzzDecode decodes arbitrary files over defaults. Nothing may panic,
// every error wraps ErrInvalid, and whatever decodes is encoded by the
// TOML encoder into a file that decodes to the same configuration.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("name = \"alice\"\nport = 7171\nttl = \"90s\"\nevery = \"1m\"\n[section]\nwait = \"2s\"\nports = [1, 65535]\n"))
	f.Add([]byte(""))
	f.Add([]byte("port = 65536\n"))
	f.Add([]byte("nmae = \"typo\"\n"))
	f.Add([]byte("rate = nan\nbig = -9223372036854775808\n"))
	f.Add([]byte("every = \"forever\"\n"))
	f.Add([]byte("[section]\nkey = \"\"\"\nmulti\nline\"\"\"\n[section]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := defaultFuzzConfig()
		err := Decode(data, &c)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		enc := encode(t, c)
		c2 := defaultFuzzConfig()
		if err := Decode(enc, &c2); err != nil {
			t.Fatalf("our own encoding does not decode: %v\n%s", err, enc)
		}
		if enc2 := encode(t, c2); !bytes.Equal(enc, enc2) {
			t.Fatalf("decode/encode not stable:\n%s\n---\n%s", enc, enc2)
		}
	})
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatalf("encode %+v: %v", v, err)
	}
	return buf.Bytes()
}
