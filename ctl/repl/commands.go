package repl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// command is one chatctl verb, shared by the command line and the shell.
type command struct {
	name     string
	argsHelp string
	flags    []string // flags beyond --json
	minArgs  int
	maxArgs  int  // -1: no limit
	names    bool // the first argument is a contact name (for completion)
	summary  string
	hidden   bool // left out of help and completion
	run      func(ctx context.Context, con *console, a *args) error
}

func (c *command) allows(flag string) bool {
	return flag == "json" || slices.Contains(c.flags, flag)
}

func (c *command) usage() string {
	s := c.name
	for _, f := range c.flags {
		s += " [--" + f
		if needsValue(f) {
			s += " " + strings.ToUpper(f[:1])
		}
		s += "]"
	}
	if c.argsHelp != "" {
		s += " " + c.argsHelp
	}
	return s
}

var commands = map[string]*command{}

func init() {
	for _, c := range []*command{
		{name: "init", argsHelp: "NAME", flags: []string{"tracker"}, minArgs: 1, maxArgs: 1, run: runInit,
			summary: "choose your name: register it on the tracker and print your fingerprint"},
		{name: "send", argsHelp: "NAME TEXT...", flags: []string{"wait", "timeout"}, minArgs: 2, maxArgs: -1, names: true, run: runSend,
			summary: "queue a message and print its ID"},
		{name: "attach", argsHelp: "NAME", minArgs: 1, maxArgs: 1, names: true, run: runAttach,
			summary: "talk to NAME interactively (/help inside for commands)"},
		{name: "history", argsHelp: "NAME", flags: []string{"limit"}, minArgs: 1, maxArgs: 1, names: true, run: runHistory,
			summary: "print the conversation with NAME"},
		{name: "contacts", maxArgs: 0, run: runContacts, summary: "list your contacts"},
		{name: "add", argsHelp: "NAME", minArgs: 1, maxArgs: 1, run: runAdd,
			summary: "look NAME up on the tracker and pin their key"},
		{name: "verify", argsHelp: "NAME FPR", minArgs: 2, maxArgs: 2, names: true, run: runVerify,
			summary: "mark NAME verified, after comparing fingerprints out of band"},
		{name: "remove", argsHelp: "NAME", minArgs: 1, maxArgs: 1, names: true, run: runRemove,
			summary: "forget NAME and their pinned key"},
		{name: "requests", maxArgs: 0, run: runRequests,
			summary: "list messages from people who are not your contacts, waiting for your answer"},
		{name: "accept", argsHelp: "NAME", minArgs: 1, maxArgs: 1, run: runAccept,
			summary: "make NAME a contact and move their request into your history"},
		{name: "decline", argsHelp: "NAME", minArgs: 1, maxArgs: 1, run: runDecline,
			summary: "delete NAME's request"},
		{name: "block", argsHelp: "NAME", minArgs: 1, maxArgs: 1, names: true, run: runBlock,
			summary: "refuse NAME's key from now on, under any name; drops their request and contact"},
		{name: "unblock", argsHelp: "NAME|FPR", minArgs: 1, maxArgs: 1, run: runUnblock,
			summary: "take a key off the block list"},
		{name: "blocked", maxArgs: 0, run: runBlocked, summary: "list the blocked keys"},
		{name: "whoami", maxArgs: 0, run: runWhoami, summary: "print your name and fingerprint"},
		{name: "unregister", flags: []string{"yes"}, maxArgs: 0, run: runUnregister,
			summary: "delete your name from the tracker: contacts' lookups then say not found, and chatd stops announcing it until it restarts"},
		{name: "status", maxArgs: 0, run: runStatus, summary: "print the daemon's status"},
		{name: "completion", argsHelp: "bash|zsh", minArgs: 1, maxArgs: 1, run: runCompletion,
			summary: "print the shell completion script for bash or zsh"},
		{name: "help", maxArgs: -1, run: runHelp, summary: "print this help"},
		{name: completeNamesCmd, maxArgs: 0, hidden: true, run: runCompleteNames},
	} {
		commands[c.name] = c
	}
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func runSend(ctx context.Context, con *console, a *args) error {
	to, body := a.pos[0], strings.Join(a.pos[1:], " ")
	var cursor int64
	if a.wait { // before sending, so that the receipt cannot slip past
		st, err := con.c.Status(ctx)
		if err != nil {
			return err
		}
		cursor = st.EventCursor
	}
	m, err := con.c.Send(ctx, to, body)
	if err != nil {
		return err
	}
	if !a.wait {
		return con.print(a, m, m.ID)
	}
	if !a.json {
		fmt.Fprintln(con.out, m.ID) // now, so a script has it even on timeout
	}
	wctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	d, err := con.c.WaitDelivered(wctx, to, m.ID, cursor)
	if errors.Is(err, api.ErrNotDelivered) {
		if a.json {
			con.printJSON(m)
		}
		return errNotDelivered(m.ID)
	}
	if err != nil {
		return err
	}
	if a.json {
		return con.printJSON(d)
	}
	return nil
}

func runHistory(ctx context.Context, con *console, a *args) error {
	limit := a.limit
	if limit == 0 {
		limit = api.DefaultHistoryPage
	}
	ms, err := con.c.LastMessages(ctx, a.pos[0], limit)
	if err != nil {
		return err
	}
	if a.json {
		return con.printJSON(ms)
	}
	if len(ms) == 0 {
		fmt.Fprintln(con.out, msgNoHistory(a.pos[0]))
	}
	for _, m := range ms {
		fmt.Fprintln(con.out, formatMessage(m, true, time.Time{}))
	}
	return nil
}

func runContacts(ctx context.Context, con *console, a *args) error {
	cs, err := con.c.Contacts(ctx)
	if err != nil {
		return err
	}
	if a.json {
		return con.printJSON(cs)
	}
	writeContacts(con.out, cs)
	return nil
}

func runAdd(ctx context.Context, con *console, a *args) error {
	c, err := con.c.AddContact(ctx, a.pos[0])
	if err != nil {
		return err
	}
	return con.print(a, c, msgAdded(c))
}

func runVerify(ctx context.Context, con *console, a *args) error {
	c, err := con.c.VerifyContact(ctx, a.pos[0], a.pos[1])
	if err != nil {
		return err
	}
	return con.print(a, c, msgVerified(c))
}

func runRemove(ctx context.Context, con *console, a *args) error {
	if err := con.c.RemoveContact(ctx, a.pos[0]); err != nil {
		return err
	}
	return con.print(a, map[string]string{"removed": a.pos[0]}, msgRemoved(a.pos[0]))
}

func runUnregister(ctx context.Context, con *console, a *args) error {
	if !a.yes {
		st, err := con.c.Status(ctx)
		if err != nil {
			return err
		}
		if err := con.confirm(promptUnregister(st.Name)); err != nil {
			return err
		}
	}
	res, err := con.c.Unregister(ctx)
	if err != nil {
		return err
	}
	return con.print(a, res, msgUnregistered(res))
}

func runWhoami(ctx context.Context, con *console, a *args) error {
	st, err := con.c.Status(ctx)
	if err != nil {
		return err
	}
	who := struct {
		Name        string `json:"name"`
		Fingerprint string `json:"fingerprint"`
	}{st.Name, st.Fingerprint}
	return con.print(a, who, msgWhoami(st.Name, st.Fingerprint))
}

func runStatus(ctx context.Context, con *console, a *args) error {
	st, err := con.c.Status(ctx)
	if err != nil {
		return err
	}
	if a.json {
		return con.printJSON(st)
	}
	writeStatus(con.out, st)
	return nil
}

func runHelp(ctx context.Context, con *console, a *args) error {
	Page().WriteHelp(con.out)
	return nil
}
