// Package logging makes the zap logger that chatd and chat-tracker create
// in main, in the format that suits where stderr goes:
//
//   - under journald (JOURNAL_STREAM names stderr), each line starts with the
//     sd-daemon(3) priority prefix ("<3>" for errors, "<4>" warnings, "<6>"
//     info, "<7>" debug) and carries no timestamp, since the journal stamps
//     every entry itself; `journalctl -p warning` then filters by level;
//   - on a terminal, a readable console format with a short local time and
//     coloured levels;
//   - anywhere else (a file, a pipe), the console format with full ISO 8601
//     timestamps and tab-separated fields, as tools parsing it expect.
//
// Format "json" keeps zap's JSON lines (with the priority prefix under
// journald, which journald strips before storing the message).
//
//	log, err := logging.New(logging.Options{Level: "info", Format: "console"})
package logging

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

// Options says how to log. Zero values mean info level, console format,
// os.Stderr and the process environment.
type Options struct {
	Level  string // debug, info, warn or error
	Format string // console or json
	// Out is where logs go (default os.Stderr); journald and terminal
	// detection look at it when it is an *os.File.
	Out io.Writer
	// Getenv reads JOURNAL_STREAM (default os.Getenv); tests replace it.
	Getenv func(string) string
}

// Output kinds New chooses between.
const (
	OutJournal  = "journal"
	OutTerminal = "terminal"
	OutPlain    = "plain"
)

// New builds the logger. It fails, with a one-line reason, only for an
// unknown level or format.
func New(o Options) (*zap.Logger, error) {
	lvl := zapcore.InfoLevel
	if o.Level != "" {
		var err error
		if lvl, err = zapcore.ParseLevel(o.Level); err != nil {
			return nil, fmt.Errorf("log level %q: want debug, info, warn or error", o.Level)
		}
	}
	if o.Format != "" && o.Format != "console" && o.Format != "json" {
		return nil, fmt.Errorf("log format %q: want console or json", o.Format)
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	kind := Detect(o.Out, o.Getenv)
	enc := encoder(o.Format, kind)
	// One lock for log lines and zap's own error reports, which share Out.
	ws := zapcore.Lock(zapcore.AddSync(o.Out))
	core := zapcore.NewCore(enc, ws, zap.NewAtomicLevelAt(lvl))
	return zap.New(core, zap.ErrorOutput(ws)), nil
}

// Detect reports where out leads: the journal when JOURNAL_STREAM holds
// out's device and inode (systemd sets it for the service's stdout and
// stderr; a child whose stderr was redirected keeps the variable but not
// the stream, hence the comparison), a terminal, or something else.
func Detect(out io.Writer, getenv func(string) string) string {
	f, ok := out.(*os.File)
	if !ok {
		return OutPlain
	}
	if js := getenv("JOURNAL_STREAM"); js != "" {
		var st unix.Stat_t
		dev, ino, ok := strings.Cut(js, ":")
		if ok && unix.Fstat(int(f.Fd()), &st) == nil &&
			dev == strconv.FormatUint(uint64(st.Dev), 10) && ino == strconv.FormatUint(st.Ino, 10) {
			return OutJournal
		}
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		return OutTerminal
	}
	return OutPlain
}

func encoder(format, kind string) zapcore.Encoder {
	ec := zap.NewProductionEncoderConfig()
	if format == "json" {
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc := zapcore.NewJSONEncoder(ec)
		if kind == OutJournal {
			return &prefixEncoder{Encoder: enc}
		}
		return enc
	}
	switch kind {
	case OutJournal:
		ec.TimeKey, ec.LevelKey = "", "" // the journal has both
		ec.ConsoleSeparator = " "
		return &prefixEncoder{Encoder: zapcore.NewConsoleEncoder(ec)}
	case OutTerminal:
		ec.ConsoleSeparator = " "
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
	default:
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
	}
	return zapcore.NewConsoleEncoder(ec)
}

// Priority is the syslog priority journald stores for a zap level.
func Priority(l zapcore.Level) int {
	switch {
	case l >= zapcore.DPanicLevel:
		return 2 // crit
	case l == zapcore.ErrorLevel:
		return 3 // err
	case l == zapcore.WarnLevel:
		return 4 // warning
	case l == zapcore.InfoLevel:
		return 6 // info
	default:
		return 7 // debug
	}
}

var pool = buffer.NewPool()

// prefixEncoder puts the sd-daemon(3) priority prefix on every line of an
// entry, so a multi-line message (a stack trace) keeps its priority.
type prefixEncoder struct{ zapcore.Encoder }

func (p *prefixEncoder) Clone() zapcore.Encoder { return &prefixEncoder{p.Encoder.Clone()} }

func (p *prefixEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	b, err := p.Encoder.EncodeEntry(ent, fields)
	if err != nil {
		return nil, err
	}
	defer b.Free()
	prefix := "<" + strconv.Itoa(Priority(ent.Level)) + ">"
	out := pool.Get()
	body := strings.TrimSuffix(b.String(), "\n")
	for line := range strings.SplitSeq(body, "\n") {
		out.AppendString(prefix)
		out.AppendString(line)
		out.AppendByte('\n')
	}
	return out, nil
}
