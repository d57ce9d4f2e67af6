package repl

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mattn/go-runewidth"
)

// editResult says what a key press did to the line.
type editResult int

const (
	editNone      editResult = iota
	editSubmit               // Enter: the line is done
	editEOF                  // Ctrl-D on an empty line
	editInterrupt            // Ctrl-C on an empty line
)

// lineEditor owns the bottom line of a raw-mode terminal: the prompt and
// the text being typed. Lines printed through it appear above that line
// without disturbing it. Keys come from the input goroutine and lines from
// the event goroutine, so one mutex guards everything.
type lineEditor struct {
	mu     sync.Mutex
	w      io.Writer
	width  func() int // terminal columns; asked on every redraw, so resizes just work
	prompt string

	buf    []rune
	pos    int // cursor index into buf
	scroll int // index of the first rune shown, when the line is wider than the screen

	hist  []string // lines submitted in this session, for Up/Down
	hidx  int      // position in hist while browsing; len(hist) means the new line
	draft []rune   // the unsent line, kept while browsing hist

	lastKey string // key of the line just above the prompt, for update in place
	lastFit bool   // that line took one screen row
}

func newLineEditor(w io.Writer, prompt string, width func() int) *lineEditor {
	return &lineEditor{w: w, prompt: prompt, width: width}
}

// Key applies one key press. On editSubmit it returns the line and starts
// an empty one.
func (e *lineEditor) Key(k key) (string, editResult) {
	e.mu.Lock()
	defer e.mu.Unlock()
	line, res := e.applyLocked(k)
	e.refreshLocked()
	return line, res
}

func (e *lineEditor) applyLocked(k key) (string, editResult) {
	switch k.code {
	case keyLeft:
		e.pos = max(0, e.pos-1)
	case keyRight:
		e.pos = min(len(e.buf), e.pos+1)
	case keyHome:
		e.pos = 0
	case keyEnd:
		e.pos = len(e.buf)
	case keyDelete:
		e.deleteLocked(e.pos, e.pos+1)
	case keyUp:
		e.browseLocked(-1)
	case keyDown:
		e.browseLocked(+1)
	case keyRune:
		return e.controlLocked(k.r)
	}
	return "", editNone
}

func (e *lineEditor) controlLocked(r rune) (string, editResult) {
	switch r {
	case '\r', '\n':
		line := string(e.buf)
		if strings.TrimSpace(line) != "" {
			e.hist = append(e.hist, line)
		}
		e.buf, e.pos, e.scroll, e.hidx, e.draft = nil, 0, 0, len(e.hist), nil
		return line, editSubmit
	case ctrlD:
		if len(e.buf) == 0 {
			return "", editEOF
		}
		e.deleteLocked(e.pos, e.pos+1)
	case ctrlC:
		if len(e.buf) == 0 {
			return "", editInterrupt
		}
		e.buf, e.pos = nil, 0
	case ctrlA:
		e.pos = 0
	case ctrlE:
		e.pos = len(e.buf)
	case ctrlB:
		e.pos = max(0, e.pos-1)
	case ctrlF:
		e.pos = min(len(e.buf), e.pos+1)
	case ctrlH, del:
		e.deleteLocked(e.pos-1, e.pos)
	case ctrlK:
		e.deleteLocked(e.pos, len(e.buf))
	case ctrlU:
		e.deleteLocked(0, e.pos)
	case ctrlW:
		e.deleteLocked(e.wordStartLocked(), e.pos)
	case ctrlP:
		e.browseLocked(-1)
	case ctrlN:
		e.browseLocked(+1)
	case ctrlL:
		io.WriteString(e.w, "\x1b[H\x1b[2J")
		e.lastKey = ""
	default:
		if printable(r) {
			e.buf = append(e.buf[:e.pos], append([]rune{r}, e.buf[e.pos:]...)...)
			e.pos++
		}
	}
	return "", editNone
}

// deleteLocked removes buf[from:to], clamped to the line.
func (e *lineEditor) deleteLocked(from, to int) {
	from, to = max(0, from), min(len(e.buf), to)
	if from >= to {
		return
	}
	e.buf = append(e.buf[:from], e.buf[to:]...)
	if e.pos > to {
		e.pos -= to - from
	} else if e.pos > from {
		e.pos = from
	}
}

func (e *lineEditor) wordStartLocked() int {
	i := e.pos
	for i > 0 && e.buf[i-1] == ' ' {
		i--
	}
	for i > 0 && e.buf[i-1] != ' ' {
		i--
	}
	return i
}

func (e *lineEditor) browseLocked(dir int) {
	next := e.hidx + dir
	if next < 0 || next > len(e.hist) {
		return
	}
	if e.hidx == len(e.hist) {
		e.draft = append([]rune(nil), e.buf...)
	}
	e.hidx = next
	if next == len(e.hist) {
		e.buf = e.draft
	} else {
		e.buf = []rune(e.hist[next])
	}
	e.pos = len(e.buf)
}

// Print writes text above the prompt line and redraws the prompt.
func (e *lineEditor) Print(text string) { e.PrintKeyed("", text) }

// PrintKeyed is Print for a line that Update may later rewrite.
func (e *lineEditor) PrintKeyed(k, text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	io.WriteString(e.w, "\r\x1b[K"+crlf(text)+"\r\n")
	e.lastKey = k
	e.lastFit = !strings.Contains(text, "\n") && runewidth.StringWidth(text) < e.cols()
	e.refreshLocked()
}

// Update rewrites the line printed with key k if it is still the one right
// above the prompt and took one row; otherwise it reports false and the
// caller prints something new instead.
func (e *lineEditor) Update(k, text string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if k == "" || k != e.lastKey || !e.lastFit || strings.Contains(text, "\n") || runewidth.StringWidth(text) >= e.cols() {
		return false
	}
	io.WriteString(e.w, "\r\x1b[K\x1b[1A\r\x1b[K"+text+"\r\n")
	e.refreshLocked()
	return true
}

// Finish clears the prompt line, leaving the screen as a log of the chat.
func (e *lineEditor) Finish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	io.WriteString(e.w, "\r\x1b[K")
}

// Redraw draws the prompt line (after raw mode starts).
func (e *lineEditor) Redraw() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refreshLocked()
}

func (e *lineEditor) cols() int {
	if c := e.width(); c > 0 {
		return c
	}
	return 80
}

// refreshLocked draws prompt and line on the current row, scrolled
// sideways so the cursor is visible, and puts the cursor in place.
func (e *lineEditor) refreshLocked() {
	pw := runewidth.StringWidth(e.prompt)
	avail := max(1, e.cols()-pw-1)
	if e.pos < e.scroll {
		e.scroll = e.pos
	}
	for e.scroll < e.pos && runesWidth(e.buf[e.scroll:e.pos]) > avail {
		e.scroll++
	}
	end := e.scroll
	for end < len(e.buf) && runesWidth(e.buf[e.scroll:end+1]) <= avail {
		end++
	}
	col := pw + runesWidth(e.buf[e.scroll:e.pos])
	var sb strings.Builder
	sb.WriteString("\r" + e.prompt + string(e.buf[e.scroll:end]) + "\x1b[K\r")
	if col > 0 {
		fmt.Fprintf(&sb, "\x1b[%dC", col)
	}
	io.WriteString(e.w, sb.String())
}

func runesWidth(rs []rune) int {
	w := 0
	for _, r := range rs {
		w += runewidth.RuneWidth(r)
	}
	return w
}

// crlf turns \n into \r\n: in raw mode only \r returns the carriage.
func crlf(s string) string {
	return strings.ReplaceAll(s, "\n", "\r\n")
}
