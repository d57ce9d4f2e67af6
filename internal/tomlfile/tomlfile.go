// Package tomlfile is the one way p2pchat's programs read their TOML
// configuration (BurntSushi/toml): the file is decoded over the defaults
// already in v, and a key the program does not know is an error, so a typo
// never silently does nothing.
//
//	cfg := Default()
//	if err := tomlfile.Load(path, &cfg); err != nil { ... } // errors.Is(err, fs.ErrNotExist) when missing
//
// Load is ReadFile plus Decode; Decode is the whole of the parsing, for
// callers (and fuzz tests) that hold the bytes already.
package tomlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxSize bounds a configuration file. Ours are a few KiB; the bound keeps
// a path named by mistake (/dev/zero, a log file) from filling memory.
const MaxSize = 1 << 20

// ErrInvalid is wrapped by every error about what a file says (bad
// syntax, a value of the wrong type, an unknown key, too large), as
// opposed to the file not being readable.
var ErrInvalid = errors.New("invalid TOML configuration")

// Load decodes the file at path into v, refusing unknown keys. Errors name
// the file and wrap the cause.
func Load(path string, v any) error {
	data, err := readFile(path)
	if err != nil {
		return fmt.Errorf("load config %s: %w", path, err)
	}
	if err := Decode(data, v); err != nil {
		return fmt.Errorf("load config %s: %w", path, err)
	}
	return nil
}

// readFile reads at most MaxSize+1 bytes of path, so Decode can refuse a
// larger file without it ever being read whole.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxSize+1))
}

// Decode decodes data into v, refusing unknown keys. Keys data does not
// set keep the values v already holds. Every error wraps ErrInvalid.
func Decode(data []byte, v any) error {
	if len(data) > MaxSize {
		return invalid(fmt.Errorf("larger than %d bytes", MaxSize))
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(v)
	if err != nil {
		return invalid(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return invalid(fmt.Errorf("unknown keys: %s", strings.Join(keys, ", ")))
	}
	return nil
}

// invalidError marks err as ErrInvalid without changing its message, which
// already says what is wrong.
type invalidError struct{ err error }

func invalid(err error) error { return &invalidError{err} }

func (e *invalidError) Error() string   { return e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }
