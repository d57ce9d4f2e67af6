package logging

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// journalEnv makes JOURNAL_STREAM name f, as systemd does for a service's
// stderr.
func journalEnv(t *testing.T, f *os.File) func(string) string {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	js := strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10)
	return func(k string) string {
		if k == "JOURNAL_STREAM" {
			return js
		}
		return ""
	}
}

func logTo(t *testing.T, o Options, f func(*zap.Logger)) string {
	t.Helper()
	log, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f(log)
	log.Sync()
	b, err := os.ReadFile(o.Out.(*os.File).Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func tempFile(t *testing.T) *os.File {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Under journald every line carries its priority and no timestamp.
func TestJournalPrefixes(t *testing.T) {
	f := tempFile(t)
	out := logTo(t, Options{Level: "debug", Out: f, Getenv: journalEnv(t, f)}, func(l *zap.Logger) {
		l.Debug("dbg")
		l.Info("hello", zap.String("name", "alice"))
		l.Warn("careful")
		l.Error("broken", zap.Error(errors.New("boom")))
		l.Named("store").Info("two\nlines")
	})
	want := []string{
		`<7>dbg`,
		`<6>hello {"name": "alice"}`,
		`<4>careful`,
		`<3>broken {"error": "boom"}`,
		`<6>store two`,
		`<6>lines`,
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal output:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

// JSON under journald keeps its fields and gains only the prefix.
func TestJournalJSON(t *testing.T) {
	f := tempFile(t)
	out := logTo(t, Options{Format: "json", Out: f, Getenv: journalEnv(t, f)}, func(l *zap.Logger) {
		l.Warn("careful")
	})
	if !regexp.MustCompile(`^<4>\{"level":"warn","ts":"[0-9T:.+Z-]+","msg":"careful"\}\n$`).MatchString(out) {
		t.Errorf("json under journald: %q", out)
	}
}

// A stale JOURNAL_STREAM (stderr redirected by a parent) is ignored: the
// plain format, with timestamps, is used.
func TestStaleJournalStreamIgnored(t *testing.T) {
	f := tempFile(t)
	other := tempFile(t)
	out := logTo(t, Options{Out: f, Getenv: journalEnv(t, other)}, func(l *zap.Logger) {
		l.Info("hello")
	})
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT[0-9:.+Z-]+\tINFO\thello\n$`).MatchString(out) {
		t.Errorf("plain output: %q", out)
	}
	if got := Detect(f, journalEnv(t, other)); got != OutPlain {
		t.Errorf("Detect = %s, want %s", got, OutPlain)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{Level: "loud"}, {Format: "xml"}} {
		if _, err := New(o); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("New(%+v) = %v, want a one-line error", o, err)
		}
	}
}
