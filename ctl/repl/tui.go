package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
)

// Every message a user reads lives in this file, so that the voice stays
// one voice: lower case, one line, no trailing period; then, where it
// helps, a line starting with "hint: " that says what to do.

// Exit codes; see the package doc.
const (
	ExitOK           = 0
	ExitError        = 1
	ExitUsage        = 2
	ExitNotRunning   = 3
	ExitNotDelivered = 4
)

const shellIntro = "chatctl shell: type help for commands, Ctrl-D or quit to leave"

const attachHelp = `/history [N]        show the last N messages (default 20)
/verify FINGERPRINT mark this contact verified
/quit               leave (also Ctrl-D, or Ctrl-C on an empty line)
//text              send a message that starts with a slash`

// Hints, by error code.
var hints = map[string]string{
	api.CodeNoName:              "choose a name with 'chatctl init NAME'",
	api.CodeNameTaken:           "choose another name: chatctl init OTHER-NAME",
	api.CodeUnknownUser:         "check the spelling, and that they have registered (run chatd once)",
	api.CodeNotFound:            "'chatctl contacts' lists your contacts",
	api.CodeKeyMismatch:         "their key changed: ask them out of band before trusting it; 'chatctl remove NAME' then 'chatctl add NAME' re-pins",
	api.CodeFingerprintMismatch: "compare again with them; 'chatctl contacts' shows the fingerprint you pinned",
	api.CodeTooLarge:            "split it into several messages (the limit is 64 KiB)",
	api.CodeUnavailable:         "see chatd's log: journalctl --user -u chatd",
	api.CodeForbidden:           "run chatctl as the user that runs chatd",
}

// versionNote tells that chatctl and chatd differ, as after an upgrade
// that has not restarted chatd yet.
func versionNote(ctl, daemon string) string {
	return fmt.Sprintf("chatctl: note: chatd is version %s and chatctl %s\nhint: restart chatd to finish an upgrade: systemctl --user restart chatd", daemon, ctl)
}

const hintNotRunning = "start it with 'systemctl --user start chatd'"

const hintForeignDaemon = "another user may have replaced chatd's socket: check who can write to its directory, then restart chatd (systemctl --user restart chatd)"

// usageError is a mistake on the command line: exit 2 and show how.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func errUnknownCommand(name string) error {
	return usagef("unknown command %q (try 'chatctl help')", name)
}

func errUnknownFlag(cmd, flag string) error { return usagef("%s: unknown flag %s", cmd, flag) }
func errFlagNeedsValue(cmd, flag string) error {
	return usagef("%s: flag --%s needs a value", cmd, flag)
}
func errBadFlagValue(cmd, flag, val, want string) error {
	return usagef("%s: --%s %q is not %s", cmd, flag, val, want)
}
func errUsage(usage string) error { return usagef("usage: chatctl %s", usage) }

var errAttachJSON = usagef("attach has no --json output; use 'history NAME --json' and 'send'")

const (
	usageSlashVerify  = "usage: /verify FINGERPRINT"
	usageSlashHistory = "usage: /history [N]"
	msgNoContacts     = "no contacts yet; add one with 'chatctl add NAME'"
)

func errNotDelivered(id string) error {
	return &api.Error{Code: api.CodeNotDelivered, Message: fmt.Sprintf("message %s not delivered yet", id),
		Hint: "it stays queued and chatd keeps retrying; 'chatctl history NAME' shows its state"}
}

var errInterrupted = errors.New("interrupted")

// report writes err the one way every chatctl error looks and returns the
// exit code for it.
func report(w io.Writer, prefix string, err error) int {
	line := func(msg, hint string) {
		fmt.Fprintf(w, "%s%s\n", prefix, oneLine(msg))
		if hint != "" {
			fmt.Fprintf(w, "hint: %s\n", cleanLine(hint))
		}
	}
	var ue *usageError
	var ae *api.Error
	switch {
	case errors.As(err, &ue):
		line(ue.msg, "")
		return ExitUsage
	case errors.Is(err, client.ErrDaemonNotRunning):
		line(err.Error(), hintNotRunning)
		return ExitNotRunning
	case errors.Is(err, client.ErrForeignDaemon):
		line(err.Error(), hintForeignDaemon)
		return ExitError
	case errors.Is(err, fs.ErrPermission):
		line(err.Error(), hints[api.CodeForbidden])
		return ExitError
	case errors.As(err, &ae):
		hint := ae.Hint
		if hint == "" {
			hint = hints[ae.Code]
		}
		line(ae.Message, hint)
		if ae.Code == api.CodeNotDelivered || ae.Code == api.CodeRefused {
			return ExitNotDelivered // the message stays queued either way
		}
		return ExitError
	case errors.Is(err, context.Canceled), errors.Is(err, errInterrupted):
		line("interrupted", "")
		return ExitError
	default:
		line(err.Error(), "")
		return ExitError
	}
}

// oneLine keeps an error to one line, whatever the daemon sent, with
// anything a terminal would act on escaped (display.go): an error may
// quote a peer, a tracker or a router.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return cleanLine(s)
}

// Confirmations and attach notices.
func msgAdded(c api.Contact) string {
	c.Name, c.Fingerprint = cleanLine(c.Name), cleanLine(c.Fingerprint)
	return fmt.Sprintf("added %s, fingerprint %s\nhint: compare it with %s out of band, then run 'chatctl verify %s FINGERPRINT'",
		c.Name, c.Fingerprint, c.Name, c.Name)
}
func msgInit(r api.InitResult) string {
	r.Name, r.Tracker, r.Fingerprint = cleanLine(r.Name), cleanLine(r.Tracker), cleanLine(r.Fingerprint)
	if !r.Initialized {
		return fmt.Sprintf("chatd is already %s on %s\nfingerprint: %s", r.Name, r.Tracker, r.Fingerprint)
	}
	return fmt.Sprintf("registered %s on %s\nfingerprint: %s\ngive your name to your contacts and compare this fingerprint with them out of band", r.Name, r.Tracker, r.Fingerprint)
}

func errCompletionShell(shell string) error {
	return usagef("no completion for %q (bash or zsh)", shell)
}

func msgWhoami(name, fingerprint string) string {
	return fmt.Sprintf("%s\nfingerprint: %s", cleanLine(name), cleanLine(fingerprint))
}
func msgVerified(c api.Contact) string {
	return fmt.Sprintf("%s is verified (%s)", cleanLine(c.Name), cleanLine(c.Fingerprint))
}
func msgRemoved(name string) string { return fmt.Sprintf("removed %s", cleanLine(name)) }
func promptUnregister(name string) string {
	name = cleanLine(name)
	return fmt.Sprintf("delete %s from the tracker? Your contacts will no longer find you (lookups say not found),\n"+
		"and anyone may then register %s. chatd registers it again when it next starts. [y/N] ", name, name)
}
func msgUnregistered(r api.UnregisterResult) string {
	r.Name, r.Tracker = cleanLine(r.Name), cleanLine(r.Tracker)
	return fmt.Sprintf("deleted %s from %s; chatd no longer announces it\nhint: stop chatd (systemctl --user stop chatd) to keep the name unregistered", r.Name, r.Tracker)
}

var (
	errNotConfirmed = errors.New("not confirmed: nothing changed")
	errNeedsYes     = usagef("unregister: stdin is not a terminal; pass --yes to confirm")
)

func msgAttached(name string) string {
	return fmt.Sprintf("talking to %s; /help for commands, Ctrl-D to leave", cleanLine(name))
}
func msgNoHistory(name string) string { return fmt.Sprintf("no messages with %s yet", cleanLine(name)) }
func msgPresence(name string, online bool) string {
	name = cleanLine(name)
	if online {
		return fmt.Sprintf("· %s is online", name)
	}
	return fmt.Sprintf("· %s went offline", name)
}
func msgKeyMismatch(name, detail string) string {
	name = cleanLine(name)
	s := fmt.Sprintf("!! %s presented a key that is not the one you pinned: messages from it are refused", name)
	if detail != "" {
		s += " (" + oneLine(detail) + ")"
	}
	return s
}
func msgUnknownSlash(cmd string) string {
	return fmt.Sprintf("unknown command %s; /help lists them", cleanLine(cmd))
}
func msgSendFailed(err error) string { return "not sent: " + oneLine(err.Error()) }
func msgStreamLost(err error) string {
	return "lost the event stream: " + oneLine(err.Error()) + "; incoming messages will not show"
}
