package main

import (
	"flag"

	"github.com/p2pchat/p2pchat/internal/clidoc"
)

// page is chatd's --help and chatd(1), with fs's flags.
func page(fs *flag.FlagSet) *clidoc.Page {
	return &clidoc.Page{
		Name: "chatd", Section: 1,
		Summary:  "p2pchat user daemon",
		Synopsis: []string{"chatd [OPTIONS]"},
		Description: `chatd holds the user's Ed25519 identity key, keeps their signed record on the tracker fresh, and exchanges end-to-end encrypted, mutually authenticated messages directly with other users' daemons over TLS 1.3. chatctl(1) talks to it over a Unix socket.

Installed from the package, it runs as a systemd user service with a socket-activated control socket:

  systemctl --user enable --now chatd.socket chatd
  chatctl init NAME [--tracker URL]

Started without a name (none in chatd.toml, --name or account.toml), chatd serves the control socket and waits for chatctl init, which registers the name on the tracker and records it in account.toml in the data directory.

Options override the configuration file. chatd stops cleanly on SIGTERM or SIGINT. Under systemd it reports readiness, a status line and watchdog pings (sd_notify), and its log lines carry journal priorities.`,
		Flags:  fs,
		Hidden: []string{"man"},
		Sections: []clidoc.Section{
			{Title: "Files", Items: []clidoc.Item{
				{Term: "$XDG_CONFIG_HOME/chatd/chatd.toml", Text: "configuration (~/.config/chatd/chatd.toml); every key is optional;\n/usr/share/doc/p2pchat/examples/chatd.toml lists them with their defaults"},
				{Term: "$XDG_DATA_HOME/chatd/", Text: "data directory (~/.local/share/chatd): identity.key (mode 0600),\nchatd.db (messages, contacts), account.toml (the name chosen by chatctl init)"},
				{Term: "$XDG_RUNTIME_DIR/chatd/control.sock", Text: "the control socket (directory 0700, socket 0600)"},
			}},
			{Title: "Environment", ManOnly: true, Items: []clidoc.Item{
				{Term: "XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_RUNTIME_DIR", Text: "locate the files above"},
				{Term: "LISTEN_FDS, NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM", Text: "set by systemd: socket activation, readiness and watchdog, journal logging"},
				{Term: "CHATD_TEST_STALL_FILE", Text: "for tests only: while the named file exists chatd's main loop stalls, so that the watchdog fires"},
			}},
			{Title: "Exit status", Text: "0 after a clean stop, 1 on an error (one line on stderr), 2 for a bad option."},
		},
		SeeAlso: []string{"chatctl(1)", "chat-tracker(8)", "systemd.service(5)"},
	}
}
