package repl

import (
	"flag"
	"io"
	"strings"

	"github.com/p2pchat/p2pchat/internal/clidoc"
)

// Globals are chatctl's flags before the command.
type Globals struct {
	Socket string
	JSON   bool
	Man    bool // hidden: print chatctl(1) in roff
}

// NewFlags returns the global flag set cmd/chatctl parses with; the same
// set documents the flags in 'chatctl help' and chatctl(1).
func NewFlags() (*flag.FlagSet, *Globals) {
	g := &Globals{}
	fs := flag.NewFlagSet("chatctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage errors are reported in chatctl's voice
	fs.StringVar(&g.Socket, "socket", "", "chatd's control `socket` (default $CHATD_SOCKET,\nelse $XDG_RUNTIME_DIR/chatd/control.sock)")
	fs.BoolVar(&g.JSON, "json", false, "print exact JSON instead of text, for scripts")
	fs.BoolVar(&g.Man, "man", false, "print the man page (roff) and exit")
	return fs, g
}

// flagDocs documents the commands' own flags.
var flagDocs = map[string]string{
	"wait":    "--wait: wait until NAME's daemon confirms it stored the message",
	"timeout": "--timeout D: how long --wait waits (default 30s)",
	"limit":   "--limit N: the N most recent messages (default 50)",
	"tracker": "--tracker URL: register on this tracker (default: chatd's)",
	"yes":     "--yes: do not ask for confirmation (needed when stdin is not a terminal)",
}

// Page is chatctl's documentation: 'chatctl help' and chatctl(1).
func Page() *clidoc.Page {
	fs, _ := NewFlags()
	var cmds []clidoc.Item
	for _, name := range commandOrder {
		c := commands[name]
		term := c.name
		if c.argsHelp != "" {
			term += " " + c.argsHelp
		}
		text := []string{c.summary}
		for _, f := range c.flags {
			text = append(text, flagDocs[f])
		}
		cmds = append(cmds, clidoc.Item{Term: term, Text: strings.Join(text, "\n")})
	}
	return &clidoc.Page{
		Name: "chatctl", Section: 1,
		Summary:  "talk to your p2pchat daemon",
		Synopsis: []string{"chatctl [--socket PATH] [--json] [COMMAND [ARGS]]"},
		Description: `With no command, chatctl opens an interactive shell with the same commands, tab completion and a history. Every command that prints data takes --json.

chatctl talks to chatd(1) over its control socket; under systemd the socket starts chatd when it is not running. On a fresh account, after 'systemctl --user enable --now chatd.socket chatd', run 'chatctl init NAME' once.

Shell completion: the package installs it for bash and zsh; otherwise add 'source <(chatctl completion bash)' to ~/.bashrc (zsh: 'source <(chatctl completion zsh)' in ~/.zshrc, after compinit). Contact names are completed from chatd.`,
		Commands: cmds,
		Flags:    fs,
		Hidden:   []string{"man"},
		Sections: []clidoc.Section{
			{Title: "Exit codes", Items: []clidoc.Item{
				{Term: "0", Text: "ok"},
				{Term: "1", Text: "error (the daemon refused, unknown user, name taken, ...)"},
				{Term: "2", Text: "usage error (unknown command or flag, missing argument)"},
				{Term: "3", Text: "chatd is not running (nothing on the control socket)"},
				{Term: "4", Text: "not delivered before --timeout (the message stays queued)"},
			}},
			{Title: "Files", ManOnly: true, Items: []clidoc.Item{
				{Term: "$XDG_RUNTIME_DIR/chatd/control.sock", Text: "chatd's control socket"},
				{Term: "$XDG_STATE_HOME/chatd/chatctl_history", Text: "the shell's history"},
			}},
		},
		SeeAlso: []string{"chatd(1)", "chat-tracker(8)"},
	}
}

// commandOrder is the order help lists the commands in.
var commandOrder = []string{"init", "send", "attach", "history", "contacts", "add", "verify", "remove", "whoami", "unregister", "status", "completion", "help"}
