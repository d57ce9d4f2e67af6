// Package repl is chatctl: the command line, the interactive shell and the
// attach view that talk to the user's chatd through package ctl/client.
// cmd/chatctl only parses the global flags and calls Run; everything a user
// sees is decided here, and every message a user reads is written in
// tui.go.
//
// # Commands
//
//	init NAME              choose your name on a fresh chatd (--tracker URL)
//	send NAME TEXT...      queue a message; print its ID (--wait: until delivered)
//	attach NAME            talk to NAME interactively
//	history NAME           print the conversation (--limit N)
//	contacts               list contacts
//	add NAME               look NAME up on the tracker and pin their key
//	verify NAME FPR        mark NAME verified after comparing fingerprints
//	remove NAME            forget NAME and their pinned key
//	whoami                 print your name and fingerprint
//	unregister             delete your name from the tracker (asks first; --yes)
//	status                 print the daemon's status
//	completion bash|zsh    print a shell completion script
//
// 'chatctl help' and chatctl(1) are both made from the command table by
// Page (page.go), so they cannot drift apart.
//
// Every command that prints data takes --json for exact, stable output:
// it is the data as chatd sent it, unescaped, for scripts (which must
// escape it themselves before showing it to people).
//
// # What others wrote
//
// Text that came from someone else (message bodies, names, error text
// quoting a tracker or a router) is printed through display.go: control
// characters (ESC sequences, CR, C1), format characters (Unicode Cf, which
// holds the bidi controls U+202A–U+202E, U+2066–U+2069, U+200E/U+200F,
// U+061C and the zero-width joiners) and U+2028/U+2029 show escaped, as
// <U+202E>, so a peer can neither drive the terminal nor reorder a line,
// and a name with hidden characters does not look like another. A body
// keeps its newlines: the lines after the first are indented under the
// arrow; a tab prints as four spaces. An incoming message whose sender's
// timestamp is more than five minutes ahead of our clock, or before 2024,
// shows the time chatd received it marked with ~ (in attach), or ~??:?? in
// history, which does not keep the time of receipt.
// Run with no command, chatctl opens a shell (github.com/peterh/liner) with
// the same commands, tab completion of commands and contact names, and a
// history file at $XDG_STATE_HOME/chatd/chatctl_history.
//
// # Exit codes
//
//	0  success
//	1  error (the daemon refused, unknown user, ...)
//	2  usage error (unknown command or flag, missing argument)
//	3  chatd is not running (nothing on the control socket)
//	4  not delivered: send --wait timed out before the receipt came
//
// # attach
//
// On a terminal, attach does not use liner: liner cannot print a line while
// Prompt is reading, so incoming messages would corrupt the half-typed
// line. attach puts the terminal in raw mode itself and runs a small line
// editor (lineedit.go) that owns the bottom line of the screen: an incoming
// message clears that line, prints the message, and redraws the prompt and
// the typed text with the cursor where it was. Own messages appear with a
// pending mark (…) that turns into ✓ in place when the receipt arrives, or,
// if other lines were printed in between, as a separate receipt line.
//
// When stdin is not a terminal, attach sends each line it reads (lines
// starting with / are commands, // escapes a leading slash) and prints
// incoming messages as they arrive, until end of input.
package repl
