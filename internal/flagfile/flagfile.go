// Package flagfile lets the flags a user gave override the settings a
// configuration file gave, and leaves the file's value wherever the flag
// was not given (a flag's own default never wins over the file).
//
//	fs.String("listen", def.Listen, "`address` to listen on")
//	fs.Parse(args)
//	f, err := config.Load(*path)
//	flagfile.Override(fs, map[string]*string{"listen": &f.Listen})
package flagfile

import (
	"flag"
	"fmt"
)

// Override sets *dst[name] to the value of each flag in dst that was set
// on the command line. A name fs does not define is a bug in the caller,
// and panics.
func Override(fs *flag.FlagSet, dst map[string]*string) {
	for name := range dst {
		if fs.Lookup(name) == nil {
			panic(fmt.Sprintf("flagfile: no flag %q", name))
		}
	}
	fs.Visit(func(fl *flag.Flag) {
		if p, ok := dst[fl.Name]; ok {
			*p = fl.Value.String()
		}
	})
}
