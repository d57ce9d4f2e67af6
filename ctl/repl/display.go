package repl

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Everything chatctl prints that another person chose (message bodies,
// names, the daemon's error text, which may quote a tracker or a router)
// goes through cleanLine or cleanBody first. A peer must not be able to
// drive our terminal (ESC sequences, carriage returns), reorder what a line
// shows (bidi controls such as U+202E RIGHT-TO-LEFT OVERRIDE) or hide
// characters in a name (zero-width joiners and other format characters).
// Such runes are not dropped but shown escaped, as <U+202E>, so that
// "bob" and "bo<U+200D>b" look different. The cost: emoji sequences joined
// by U+200D show as their parts with the joiner marked.
//
// --json output is exact: it carries the data as chatd sent it, for
// scripts, which must do their own escaping before showing it to people.

// escaped reports whether r is printed as <U+XXXX>: C0 and C1 controls,
// format characters (category Cf, which holds every bidi control: U+061C,
// U+200E/U+200F, U+202A–U+202E, U+2066–U+2069), and the line and
// paragraph separators U+2028/U+2029.
func escaped(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

func escapeRune(sb *strings.Builder, r rune) {
	fmt.Fprintf(sb, "<U+%04X>", r)
}

// cleanLine is for text that must stay on one line: names, addresses, error
// messages. Newlines and tabs are escaped like any other control.
func cleanLine(s string) string {
	if !strings.ContainsFunc(s, escaped) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if escaped(r) {
			escapeRune(&sb, r)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// bodyTab is what a tab in a message body prints as: a tab would move the
// cursor to wherever the terminal's tab stops are, past our indentation.
const bodyTab = "    "

// cleanBody is for message bodies, which may have several lines: a newline
// (or CR LF) stays a line break, and formatMessage indents the lines after
// the first under the body's start; a tab becomes four spaces; everything
// else escaped() is escaped as in cleanLine, a lone CR included.
func cleanBody(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			sb.WriteByte('\n')
		case r == '\t':
			sb.WriteString(bodyTab)
		case escaped(r):
			escapeRune(&sb, r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// A sender's timestamp is the sender's clock: it is shown only if it is
// plausible, neither ahead of ours by more than maxClockSkew nor before
// earliestPlausible (before p2pchat existed, or a zero time).
const maxClockSkew = 5 * time.Minute

var earliestPlausible = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// implausibleMark precedes a time that is not the sender's timestamp but
// when chatd received the message (or "??" where that is not known).
const implausibleMark = "~"

// messageTime is the time to show for a message: the sender's timestamp if
// plausible, else received marked with implausibleMark, or question marks
// if received is zero (history does not keep the time of receipt).
func messageTime(sent, received, now time.Time, layout string) string {
	if !sent.After(now.Add(maxClockSkew)) && !sent.Before(earliestPlausible) {
		return sent.Local().Format(layout)
	}
	if received.IsZero() {
		return implausibleMark + strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '?'
			}
			return r
		}, layout)
	}
	return implausibleMark + received.Local().Format(layout)
}
