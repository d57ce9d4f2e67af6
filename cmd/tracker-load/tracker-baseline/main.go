// Command tracker-baseline measures the baselines the tracker's figures
// are compared with, in the same sitting (scripts/bench-tracker.sh):
//
//	tracker-baseline serve --listen 127.0.0.1:27100   # a bare net/http handler, fixed 200-byte body
//	tracker-baseline verify --duration 3s             # Ed25519 verifications/s on one core
//	tracker-baseline stdisco-db --dir D --users N     # a records.db of N devices for Syncthing's stdiscosrv
//
// serve is the lookup ceiling: what net/http itself costs per request,
// with no work behind it. verify is the update ceiling: the one thing an
// update must do that a lookup does not. stdisco-db populates the
// discovery server the tracker is compared with; stdiscosrv then answers
// GET /?device=ID for the IDs that StdiscoDeviceID makes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "tracker-baseline:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("want a command: serve, verify or stdisco-db")
	}
	fs := flag.NewFlagSet("tracker-baseline "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "serve":
		listen := fs.String("listen", "127.0.0.1:27100", "loopback `address` to serve on")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serveBare(*listen)
	case "verify":
		d := fs.Duration("duration", defaultVerifyDuration, "how long to verify")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		fmt.Printf("%.0f\n", verifyRate(*d))
		return nil
	case "stdisco-db":
		dir := fs.String("dir", ".", "stdiscosrv's --db-dir")
		users := fs.Int("users", 1_000_000, "devices to write")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return writeStdiscoDB(*dir, *users)
	}
	return fmt.Errorf("unknown command %q (want serve, verify or stdisco-db)", args[0])
}
