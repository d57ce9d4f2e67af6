package repl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peterh/liner"
)

// shell is bare chatctl: a liner prompt that runs the same commands.
func (con *console) shell(ctx context.Context) int {
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetWordCompleter(con.complete)
	histPath := historyFile()
	loadHistory(ln, histPath)
	defer saveHistory(ln, histPath)

	con.prefix = "" // errors read "unknown user", not "chatctl: unknown user", inside the shell
	if isTerminal(con.in) {
		fmt.Fprintln(con.out, shellIntro)
	}
	last := ExitOK
	for {
		line, err := ln.Prompt("chatctl> ")
		if errors.Is(err, liner.ErrPromptAborted) {
			continue
		}
		if err != nil { // io.EOF is Ctrl-D or the end of piped input
			if isTerminal(con.in) {
				fmt.Fprintln(con.out)
			}
			return last
		}
		words, err := splitWords(line)
		if err != nil {
			last = report(con.errw, con.prefix, usagef("%v", err))
			continue
		}
		if len(words) == 0 {
			continue
		}
		ln.AppendHistory(line)
		if words[0] == "quit" || words[0] == "exit" {
			return last
		}
		last = ExitOK
		if err := con.runCommand(ctx, words); err != nil {
			last = report(con.errw, con.prefix, err)
		}
	}
}

// complete completes command names in the first word and contact names in
// the second, for commands that take one.
func (con *console) complete(line string, pos int) (head string, completions []string, tail string) {
	before := line[:pos]
	start := strings.LastIndexAny(before, " \t") + 1
	head, word, tail := before[:start], before[start:], line[pos:]
	fields := strings.Fields(head)
	var candidates []string
	switch len(fields) {
	case 0:
		candidates = append(commandNames(), "quit")
	case 1:
		if cmd, ok := commands[fields[0]]; ok && cmd.names {
			candidates = con.contactNames()
		}
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, word) {
			completions = append(completions, c+" ")
		}
	}
	return head, completions, tail
}

func (con *console) contactNames() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cs, err := con.c.Contacts(ctx)
	if err != nil {
		return nil
	}
	// A name that cleanLine would change is left out: completing it would
	// put its controls on the command line.
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		if cleanLine(c.Name) == c.Name && !strings.ContainsRune(c.Name, ' ') {
			names = append(names, c.Name)
		}
	}
	return names
}

// historyFile is $XDG_STATE_HOME/chatd/chatctl_history, else
// ~/.local/state/chatd/chatctl_history; "" if neither can be found.
func historyFile() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "chatd", "chatctl_history")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "state", "chatd", "chatctl_history")
}

func loadHistory(ln *liner.State, path string) {
	if path == "" {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return // first run
	}
	defer f.Close()
	ln.ReadHistory(f)
}

// saveHistory writes the history privately: it holds what was typed,
// message text included.
func saveHistory(ln *liner.State, path string) {
	if path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	ln.WriteHistory(f)
}
