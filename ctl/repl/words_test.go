package repl

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/ctl/api"
)

func TestSplitWords(t *testing.T) {
	cases := map[string][]string{
		`send bob hi there`:         {"send", "bob", "hi", "there"},
		`send bob "hi  there"`:      {"send", "bob", "hi  there"},
		`send bob 'it''s'`:          {"send", "bob", "its"},
		`send bob "say \"hi\""`:     {"send", "bob", `say "hi"`},
		`send bob don\'t`:           {"send", "bob", "don't"},
		`  contacts  `:              {"contacts"},
		`send bob ''`:               {"send", "bob", ""},
		`verify bob 'ab cd' --json`: {"verify", "bob", "ab cd", "--json"},
	}
	for in, want := range cases {
		got, err := splitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`send "bob`, `send bob \`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func FuzzSplitWords(f *testing.F) {
	f.Add(`send bob "hi there" 'x' \y`)
	f.Add(`"unterminated`)
	f.Add("tab\tsep\nline")
	f.Fuzz(func(t *testing.T, line string) {
		words, err := splitWords(line)
		if err != nil || !utf8.ValidString(line) { // invalid bytes become U+FFFD, as liner would give them
			return
		}
		// Words without quoting characters come back as strings.Fields does.
		if !strings.ContainsAny(line, `"'\`) && !reflect.DeepEqual(words, strings.Fields(line)) &&
			!(len(words) == 0 && len(strings.Fields(line)) == 0) {
			if strings.ContainsAny(line, "\v\f\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000") {
				return // Unicode spaces: Fields splits them, a shell does not
			}
			t.Fatalf("%q: got %q, want %q", line, words, strings.Fields(line))
		}
	})
}

func TestParseArgs(t *testing.T) {
	send := commands["send"]
	a, err := parseArgs(send, []string{"--wait", "bob", "-1", "from", "me", "--timeout=5s"})
	if err != nil || !a.wait || a.timeout != 5*time.Second || strings.Join(a.pos, " ") != "bob -1 from me" {
		t.Fatalf("send: %+v %v", a, err)
	}
	a, err = parseArgs(send, []string{"bob", "--", "--json", "is", "text"})
	if err != nil || a.json || strings.Join(a.pos[1:], " ") != "--json is text" {
		t.Fatalf("send with --: %+v %v", a, err)
	}
	if a, err := parseArgs(commands["history"], []string{"bob", "--limit", "5", "--json"}); err != nil || a.limit != 5 || !a.json {
		t.Fatalf("history: %+v %v", a, err)
	}
	for _, bad := range [][]string{{"bob", "--limit"}, {"bob", "--limit", "0"}, {"--wait", "bob"}, {}} {
		if _, err := parseArgs(commands["history"], bad); err == nil {
			t.Errorf("history %q accepted", bad)
		}
	}
}

func TestFormatMessageEscapesControlCharacters(t *testing.T) {
	m := api.Message{Peer: "bob", Direction: api.DirectionIn, Body: "hi\x1b[2J\x1b]0;pwned\x07 there\r", State: api.StateReceived,
		SentAt: time.Date(2025, 1, 2, 3, 4, 0, 0, time.Local)}
	got := formatMessage(m, false, time.Time{})
	if strings.ContainsAny(got, "\x1b\x07\r") {
		t.Fatalf("escape sequence reached the terminal: %q", got)
	}
	if got != "03:04 ← bob: hi<U+001B>[2J<U+001B>]0;pwned<U+0007> there<U+000D>" {
		t.Errorf("got %q", got)
	}
	out := formatMessage(api.Message{Peer: "bob", Direction: api.DirectionOut, Body: "a\r\nb\tc", State: api.StateQueued, SentAt: m.SentAt}, true, time.Time{})
	if out != "2025-01-02 03:04 → bob: a\n                 b    c …" {
		t.Errorf("got %q", out)
	}
}
