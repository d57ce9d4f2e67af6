// Command chatctl talks to the user's chatd: it sends messages, shows
// conversations, manages contacts, and run bare opens an interactive
// shell. See package ctl/repl (or 'chatctl help') for commands and exit
// codes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/ctl/repl"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("chatctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage errors are reported below, in chatctl's voice
	socket := fs.String("socket", "", "chatd's control socket")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return repl.Run(context.Background(), repl.Config{Stdout: os.Stdout, Stderr: os.Stderr}, []string{"help"})
		}
		fmt.Fprintf(os.Stderr, "chatctl: %v\nhint: 'chatctl help' lists commands and flags\n", err)
		return repl.ExitUsage
	}
	cfg := repl.Config{
		Client: &client.Client{Socket: *socket}, // "" means $CHATD_SOCKET or the default
		JSON:   *asJSON,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}
	return repl.Run(context.Background(), cfg, fs.Args())
}
