// Command chatctl talks to the user's chatd: it sends messages, shows
// conversations, manages contacts, and run bare opens an interactive
// shell. See package ctl/repl (or 'chatctl help', or chatctl(1), both
// made from the same source) for commands and exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/ctl/repl"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs, g := repl.NewFlags()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return repl.Run(context.Background(), repl.Config{Stdout: os.Stdout, Stderr: os.Stderr}, []string{"help"})
		}
		fmt.Fprintf(os.Stderr, "chatctl: %v\nhint: 'chatctl help' lists commands and flags\n", err)
		return repl.ExitUsage
	}
	if g.Man {
		repl.Page().WriteMan(os.Stdout, version)
		return repl.ExitOK
	}
	cfg := repl.Config{
		Client:  &client.Client{Socket: g.Socket}, // "" means $CHATD_SOCKET or the default
		JSON:    g.JSON,
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Version: version,
	}
	return repl.Run(context.Background(), cfg, fs.Args())
}
