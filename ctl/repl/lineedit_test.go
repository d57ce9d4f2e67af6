package repl

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// typeKeys feeds raw terminal bytes to an editor, as a user's keyboard
// would, and returns the submitted lines.
func typeKeys(t testing.TB, e *lineEditor, input string) (lines []string, last editResult) {
	br := bufio.NewReader(strings.NewReader(input))
	for {
		k, err := readKey(br)
		if err != nil {
			return lines, last
		}
		line, res := e.Key(k)
		if res == editSubmit {
			lines = append(lines, line)
		}
		if res != editNone {
			last = res
		}
	}
}

func newTestEditor(width int) (*lineEditor, *bytes.Buffer) {
	var out bytes.Buffer
	return newLineEditor(&out, "bob> ", func() int { return width }), &out
}

func TestLineEditorEditing(t *testing.T) {
	cases := []struct{ name, keys, want string }{
		{"plain", "hello\r", "hello"},
		{"backspace", "helloo\x7f\r", "hello"},
		{"arrows insert mid-line", "hllo\x1b[D\x1b[D\x1b[De\r", "hello"},
		{"home and end", "ello\x1b[Hh\x1b[F!\r", "hello!"},
		{"ctrl-a ctrl-e", "ello\x01h\x05!\r", "hello!"},
		{"ctrl-w deletes a word", "hello wrold\x17world\r", "hello world"},
		{"ctrl-u kills to start", "junk\x15hello\r", "hello"},
		{"ctrl-k kills to end", "hello junk\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x0b\r", "hello"},
		{"delete key", "hxello\x1b[H\x1b[C\x1b[3~\r", "hello"},
		{"ctrl-c clears a non-empty line", "oops\x03hello\r", "hello"},
		{"unicode", "héllo 世界\x7f\r", "héllo 世"},
		{"control bytes ignored", "he\x00\x07llo\r", "hello"},
		{"history recall", "first\r\x1b[A\r", "first"},
	}
	for _, tc := range cases {
		e, _ := newTestEditor(80)
		lines, _ := typeKeys(t, e, tc.keys)
		if len(lines) == 0 || lines[len(lines)-1] != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, lines, tc.want)
		}
	}
}

func TestLineEditorQuitKeys(t *testing.T) {
	for keys, want := range map[string]editResult{"\x04": editEOF, "\x03": editInterrupt, "ab\x03\x03": editInterrupt} {
		e, _ := newTestEditor(80)
		if _, got := typeKeys(t, e, keys); got != want {
			t.Errorf("%q: got %v, want %v", keys, got, want)
		}
	}
	// Ctrl-D on a non-empty line deletes instead of quitting.
	e, _ := newTestEditor(80)
	lines, res := typeKeys(t, e, "ab\x1b[D\x04\r")
	if res != editSubmit || lines[0] != "a" {
		t.Errorf("ctrl-d mid-line: %q %v", lines, res)
	}
}

// An incoming line must leave the half-typed text and the cursor as they
// were: the redraw after it ends with the prompt, the text and the cursor
// moved back to where the user was typing.
func TestPrintKeepsHalfTypedLine(t *testing.T) {
	e, out := newTestEditor(80)
	typeKeys(t, e, "half typed\x1b[D\x1b[D")
	out.Reset()
	e.Print("12:00 ← bob: hi")
	got := out.String()
	want := "\r\x1b[K12:00 ← bob: hi\r\n" + "\rbob> half typed\x1b[K\r\x1b[13C"
	if got != want {
		t.Errorf("output\n got %q\nwant %q", got, want)
	}
	lines, _ := typeKeys(t, e, "X\r")
	if lines[0] != "half typXed" {
		t.Errorf("line after print: %q", lines[0])
	}
}

func TestUpdateInPlaceOnlyForLastLine(t *testing.T) {
	e, out := newTestEditor(80)
	e.PrintKeyed("id1", "→ bob: one …")
	out.Reset()
	if !e.Update("id1", "→ bob: one ✓") {
		t.Fatal("last line not updated in place")
	}
	if !strings.HasPrefix(out.String(), "\r\x1b[K\x1b[1A\r\x1b[K→ bob: one ✓\r\n") {
		t.Errorf("update output %q", out.String())
	}
	e.PrintKeyed("id2", "→ bob: two …")
	e.Print("← bob: reply")
	if e.Update("id2", "→ bob: two ✓") {
		t.Error("updated a line that is no longer above the prompt")
	}
	narrow, _ := newTestEditor(10)
	narrow.PrintKeyed("id3", "→ bob: a line wider than the screen …")
	if narrow.Update("id3", "→ bob: a line wider than the screen ✓") {
		t.Error("updated a wrapped line in place")
	}
}

func TestLongLineScrollsToKeepCursorVisible(t *testing.T) {
	e, out := newTestEditor(20)
	typeKeys(t, e, strings.Repeat("abcdefghij", 5))
	last := out.String()[strings.LastIndex(out.String(), "\rbob> "):]
	shown := strings.TrimPrefix(last, "\rbob> ")
	shown = shown[:strings.Index(shown, "\x1b[K")]
	if len(shown) > 20-5-1 || !strings.HasSuffix(shown, "hij") {
		t.Errorf("shown %q: should be the tail of the line, fitting the screen", shown)
	}
}

func FuzzLineEditor(f *testing.F) {
	f.Add("hello\r")
	f.Add("\x1b[D\x1b[3~\x1b[1;5C\x1bOH\x1b[200~x\x1b[201~")
	f.Add("世界\x7f\x17\x15\x0b\x01\x05\x10\x0e\x0c")
	f.Add("\x1b")
	f.Fuzz(func(t *testing.T, input string) {
		e, _ := newTestEditor(12)
		lines, _ := typeKeys(t, e, input)
		for _, l := range lines {
			if !utf8.ValidString(l) {
				t.Fatalf("invalid UTF-8 line %q", l)
			}
			for _, r := range l {
				if !printable(r) {
					t.Fatalf("line %q holds unprintable %U", l, r)
				}
			}
		}
		if e.pos < 0 || e.pos > len(e.buf) || e.scroll < 0 || e.scroll > e.pos {
			t.Fatalf("cursor %d scroll %d outside line of %d", e.pos, e.scroll, len(e.buf))
		}
	})
}
