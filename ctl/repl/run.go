package repl

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/p2pchat/p2pchat/ctl/client"
)

// Config is what cmd/chatctl hands over after parsing the global flags.
type Config struct {
	Client *client.Client
	JSON   bool      // --json given before the command
	Stdin  *os.File  // a terminal or not: attach and the shell look
	Stdout io.Writer // data
	Stderr io.Writer // errors and hints
	// Version is chatctl's own; when chatd answers with another, a
	// command ends with a note saying so (an upgrade not yet restarted).
	Version string
}

// console is the state one command runs with.
type console struct {
	c      *client.Client
	json   bool
	in     *os.File
	out    io.Writer
	errw   io.Writer
	prefix string // before error lines: "chatctl: " on the command line
}

// Run runs one command (args) or, with no args, the interactive shell, and
// returns the process exit code.
func Run(ctx context.Context, cfg Config, args []string) int {
	con := &console{c: cfg.Client, json: cfg.JSON, in: cfg.Stdin, out: cfg.Stdout, errw: cfg.Stderr, prefix: "chatctl: "}
	if len(args) == 0 {
		return con.shell(ctx)
	}
	code := ExitOK
	if err := con.runCommand(ctx, args); err != nil {
		code = report(con.errw, con.prefix, err)
	}
	if con.c == nil {
		return code
	}
	if d := con.c.DaemonVersion(); cfg.Version != "" && d != "" && d != cfg.Version {
		fmt.Fprintln(con.errw, versionNote(cfg.Version, d))
	}
	return code
}

// runCommand parses args and runs the command, with Ctrl-C cancelling it
// rather than the whole process (the shell continues after).
func (con *console) runCommand(ctx context.Context, args []string) error {
	cmd, ok := commands[args[0]]
	if !ok {
		return errUnknownCommand(args[0])
	}
	a, err := parseArgs(cmd, args[1:])
	if err != nil {
		return err
	}
	a.json = a.json || con.json
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	return cmd.run(ctx, con, a)
}
