package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
)

const attachHistory = 20

// attachSession is one attach: it prints the conversation with peer and
// sends what the user types. Input and events run on two goroutines; mu
// serialises what they print, so a sent message's line always comes
// before its receipt.
type attachSession struct {
	con  *console
	peer string

	mu     sync.Mutex
	mine   map[string]string // IDs of our outgoing messages on screen → state
	print  func(key, line string)
	update func(key, line string) bool
}

func runAttach(ctx context.Context, con *console, a *args) error {
	if a.json {
		return errAttachJSON
	}
	s := &attachSession{con: con, peer: a.pos[0], mine: map[string]string{}}
	st, err := con.c.Status(ctx)
	if err != nil {
		return err
	}
	hist, err := con.c.History(ctx, s.peer, attachHistory, 0)
	if err != nil {
		return err
	}
	w, err := con.c.Watch(ctx, st.EventCursor)
	if err != nil {
		return err
	}
	defer w.Close()
	if out, ok := con.out.(*os.File); ok && isTerminal(con.in) && isTerminal(out) {
		return s.runTerminal(ctx, w, hist, out)
	}
	return s.runLines(ctx, w, hist)
}

// runTerminal is attach on a terminal: raw mode and our own line editor,
// so incoming lines can appear above the line being typed.
func (s *attachSession) runTerminal(ctx context.Context, w *client.Watcher, hist []api.Message, out *os.File) error {
	restore, err := makeRaw(s.con.in)
	if err != nil {
		return err
	}
	defer restore()
	ed := newLineEditor(out, s.peer+"> ", func() int { return termWidth(out) })
	defer ed.Finish()
	s.print, s.update = ed.PrintKeyed, ed.Update
	s.intro(hist)
	ed.Redraw()
	return s.loop(ctx, w, func(br *bufio.Reader) (string, bool, error) {
		for {
			k, err := readKey(br)
			if err != nil {
				return "", false, err
			}
			line, res := ed.Key(k)
			switch res {
			case editSubmit:
				return line, true, nil
			case editEOF, editInterrupt:
				return "", false, io.EOF
			}
		}
	})
}

// runLines is attach for scripts: each input line is a message (or a
// slash command), until end of input.
func (s *attachSession) runLines(ctx context.Context, w *client.Watcher, hist []api.Message) error {
	var outMu sync.Mutex
	s.print = func(_, line string) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintln(s.con.out, line)
	}
	s.update = func(string, string) bool { return false }
	s.intro(hist)
	return s.loop(ctx, w, func(br *bufio.Reader) (string, bool, error) {
		line, err := br.ReadString('\n')
		if err != nil && line == "" {
			return "", false, err
		}
		return strings.TrimRight(line, "\r\n"), true, nil
	})
}

// loop follows events on a goroutine it owns, and feeds input lines to
// s.input until the input ends, /quit, or ctx is done.
func (s *attachSession) loop(ctx context.Context, w *client.Watcher, next func(*bufio.Reader) (string, bool, error)) error {
	in := s.con.in
	if in == nil {
		in = os.Stdin
	}
	rd, err := newFDReader(in)
	if err != nil {
		return err
	}
	defer rd.release()
	stopWake := context.AfterFunc(ctx, func() { rd.Close() })
	defer stopWake()
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		s.follow(w)
	}()
	defer func() {
		w.Close()
		<-evDone
	}()
	br := bufio.NewReaderSize(rd, 64<<10)
	for {
		line, ok, err := next(br)
		if errors.Is(err, io.EOF) || errors.Is(err, errReaderClosed) {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if ok && s.input(ctx, line) {
			return nil
		}
	}
}

func (s *attachSession) intro(hist []api.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.print("", msgAttached(s.peer))
	s.printHistoryLocked(hist)
}

func (s *attachSession) printHistoryLocked(hist []api.Message) {
	if len(hist) == 0 {
		s.print("", msgNoHistory(s.peer))
	}
	for _, m := range hist {
		if m.Direction == api.DirectionOut {
			s.mine[m.ID] = m.State
		}
		s.print(m.ID, formatMessage(m, !sameDay(m.SentAt, time.Now()), time.Time{}))
	}
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Local().Date()
	by, bm, bd := b.Local().Date()
	return ay == by && am == bm && ad == bd
}

// follow prints the events that concern peer until the watcher closes.
func (s *attachSession) follow(w *client.Watcher) {
	for {
		ev, err := w.Next()
		if errors.Is(err, client.ErrWatcherClosed) {
			return
		}
		if err != nil {
			s.mu.Lock()
			s.print("", msgStreamLost(err))
			s.mu.Unlock()
			return
		}
		s.handle(ev)
	}
}

func (s *attachSession) handle(ev api.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := ev.Message
	if ev.Peer != s.peer && (m == nil || m.Peer != s.peer) {
		return
	}
	switch {
	case ev.Type == api.EventMessage && m != nil:
		if _, ours := s.mine[m.ID]; !ours {
			if m.Direction == api.DirectionOut { // sent by another chatctl
				s.mine[m.ID] = m.State
			}
			s.print(m.ID, formatMessage(*m, false, ev.At))
		}
	case ev.Type == api.EventDelivered && m != nil:
		s.deliveredLocked(*m)
	case ev.Type == api.EventPresence && ev.Online != nil:
		s.print("", msgPresence(s.peer, *ev.Online))
	case ev.Type == api.EventKeyMismatch:
		s.print("", msgKeyMismatch(s.peer, ev.Detail))
	}
}

// deliveredLocked turns a message's … into ✓: in place if its line is
// still the last one, else as a receipt line.
func (s *attachSession) deliveredLocked(m api.Message) {
	state, ours := s.mine[m.ID]
	if !ours || state == api.StateDelivered {
		return
	}
	s.mine[m.ID] = api.StateDelivered
	if !s.update(m.ID, formatMessage(m, false, time.Time{})) {
		s.print("", formatReceipt(m))
	}
}

// input handles one typed line; it reports whether to leave.
func (s *attachSession) input(ctx context.Context, line string) bool {
	if strings.TrimSpace(line) == "" {
		return false
	}
	if strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "//") {
		return s.slash(ctx, strings.Fields(line))
	}
	line = strings.TrimPrefix(line, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	// Sending under mu keeps the receipt from being handled before the
	// message's own line is on screen.
	m, err := s.con.c.Send(ctx, s.peer, line)
	if err != nil {
		s.print("", msgSendFailed(err)) // stay: systemd may be restarting chatd
		return false
	}
	s.mine[m.ID] = m.State
	s.print(m.ID, formatMessage(m, false, time.Time{}))
	return false
}

func (s *attachSession) slash(ctx context.Context, words []string) bool {
	switch words[0] {
	case "/quit", "/exit", "/q":
		return true
	case "/help":
		s.say(attachHelp)
	case "/history":
		s.history(ctx, words[1:])
	case "/verify":
		if len(words) != 2 {
			s.say(usageSlashVerify)
			return false
		}
		c, err := s.con.c.VerifyContact(ctx, s.peer, words[1])
		if err != nil {
			s.say(oneLine(err.Error()))
			return false
		}
		s.say(msgVerified(c))
	default:
		s.say(msgUnknownSlash(words[0]))
	}
	return false
}

func (s *attachSession) history(ctx context.Context, args []string) {
	n := attachHistory
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 {
			s.say(usageSlashHistory)
			return
		}
		n = v
	}
	hist, err := s.con.c.LastMessages(ctx, s.peer, n)
	if err != nil {
		s.say(oneLine(err.Error()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.printHistoryLocked(hist)
}

func (s *attachSession) say(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range strings.Split(text, "\n") {
		s.print("", l)
	}
}
