package main

import (
	"flag"

	"github.com/p2pchat/p2pchat/internal/clidoc"
)

// page is chat-tracker's --help and chat-tracker(8), with fs's flags.
func page(fs *flag.FlagSet) *clidoc.Page {
	return &clidoc.Page{
		Name: "chat-tracker", Section: 8,
		Summary:  "p2pchat rendezvous server",
		Synopsis: []string{"chat-tracker [--config FILE] [OPTIONS]"},
		Description: `chat-tracker is where p2pchat users find each other: each chatd registers its name with a record signed by the user's key, and looks up the records of the people it talks to. Records are self-certifying, so the tracker cannot forge one; it tells each client the address it saw the request come from, so a daemon behind NAT learns its public address. It stores records in SQLite (the default) or PostgreSQL, where several trackers can share one database.

Installed from the package, it runs as the hardened system service chat-tracker.service under a dynamic user that can write only /var/lib/chat-tracker:

  systemctl enable --now chat-tracker

Options override the configuration file. The tracker stops gracefully on SIGTERM or SIGINT and tells systemd when it is ready (Type=notify).`,
		Flags:  fs,
		Hidden: []string{"man"},
		Sections: []clidoc.Section{
			{Title: "Files", Items: []clidoc.Item{
				{Term: "/etc/chat-tracker/tracker.toml", Text: "configuration, every key commented with its default"},
				{Term: "/var/lib/chat-tracker/tracker.db", Text: "the SQLite database ($STATE_DIRECTORY/tracker.db); removed only when the package is purged"},
			}},
			{Title: "Exit status", Text: "0 after a graceful stop, 1 on an error or a bad option (one line on stderr)."},
		},
		SeeAlso: []string{"chatd(1)", "chatctl(1)", "systemd.exec(5)"},
	}
}
