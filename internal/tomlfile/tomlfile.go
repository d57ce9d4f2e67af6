// Package tomlfile is the one way p2pchat's programs read their TOML
// configuration (BurntSushi/toml): the file is decoded over the defaults
// already in v, and a key the program does not know is an error, so a typo
// never silently does nothing.
//
//	cfg := Default()
//	if err := tomlfile.Load(path, &cfg); err != nil { ... } // errors.Is(err, fs.ErrNotExist) when missing
package tomlfile

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load decodes the file at path into v, refusing unknown keys. Errors name
// the file and wrap the cause.
func Load(path string, v any) error {
	md, err := toml.DecodeFile(path, v)
	if err != nil {
		return fmt.Errorf("load config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("load config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return nil
}
