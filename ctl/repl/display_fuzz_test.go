package repl

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// letThrough reports the first rune of s that the cleaners must never
// print: a control (other than the newline, allowed if nl), a format
// character (Cf, bidi controls included) or a line or paragraph separator.
func letThrough(s string, nl bool) (rune, bool) {
	for _, r := range s {
		if r == '\n' && nl {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return r, true
		}
	}
	return 0, false
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{hostile, hostileName, "plain", "a\r\nb\tc", "\u202Aa\u202B\u202C\u202D\u2067\u2068\u200F\uFEFF\U000E0041", "\xff\xfe\x80", "👨\u200D👩\u200D👧"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, bad := letThrough(cleanLine(s), false); bad {
			t.Fatalf("cleanLine(%q) let %U through", s, r)
		}
		if r, bad := letThrough(cleanBody(s), true); bad {
			t.Fatalf("cleanBody(%q) let %U through", s, r)
		}
		m := formatMessage(apiMessage(s), true, time.Now())
		if r, bad := letThrough(m, true); bad {
			t.Fatalf("formatMessage with %q let %U through", s, r)
		}
		// Nothing is lost silently: text without such runes is unchanged.
		if _, bad := letThrough(s, false); !bad && strings.ToValidUTF8(s, "\uFFFD") == s && cleanLine(s) != s {
			t.Fatalf("cleanLine changed harmless %q to %q", s, cleanLine(s))
		}
	})
}

func TestMessageTimeImplausible(t *testing.T) {
	now := time.Now()
	recv := now.Add(-time.Hour)
	for _, tc := range []struct {
		sent time.Time
		recv time.Time
		want string
	}{
		{now.Add(-2 * time.Hour), recv, now.Add(-2 * time.Hour).Local().Format("15:04")},
		{now.Add(maxClockSkew / 2), recv, now.Add(maxClockSkew / 2).Local().Format("15:04")}, // small skew is fine
		{now.Add(24 * time.Hour), recv, "~" + recv.Local().Format("15:04")},                  // the future
		{time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), recv, "~" + recv.Local().Format("15:04")},
		{time.Time{}, recv, "~" + recv.Local().Format("15:04")},
		{now.Add(365 * 24 * time.Hour), time.Time{}, "~??:??"}, // history: time of receipt unknown
	} {
		if got := messageTime(tc.sent, tc.recv, now, "15:04"); got != tc.want {
			t.Errorf("sent %v received %v: got %q, want %q", tc.sent, tc.recv, got, tc.want)
		}
	}
}

func apiMessage(body string) api.Message {
	return api.Message{Peer: body, Direction: api.DirectionIn, Body: body, SentAt: time.Now(), State: api.StateReceived}
}
