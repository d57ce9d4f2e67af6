package main

import (
	"flag"

	"github.com/p2pchat/p2pchat/internal/clidoc"
)

// page is chat-relay's --help and chat-relay(8), with fs's flags.
func page(fs *flag.FlagSet) *clidoc.Page {
	return &clidoc.Page{
		Name: "chat-relay", Section: 8,
		Summary:  "p2pchat relay of last resort",
		Synopsis: []string{"chat-relay [--config FILE] [OPTIONS]"},
		Description: `chat-relay connects two p2pchat daemons that cannot reach each other directly. A daemon behind a NAT holds a reservation on the relay, proving its identity key, and publishes the relay's address in its record; a caller asks the relay for that key and the relay joins the two connections and copies bytes. The daemons' own TLS 1.3 session runs end to end inside, so the relay sees only ciphertext and a relay that lies about who is on the other end fails the pinned-key check. Every connection to the relay is itself TLS 1.3, the relay proving the key in its address, so the network between a daemon and the relay does not see who reserves or whom a caller asks for (relay protocol 2; a daemon of protocol 1 is told to upgrade).

On start it prints its address, relay://HOST:PORT/KEY, where KEY is its Ed25519 public key: set --public-addr to the host:port others dial. The key is made on first start (mode 0600) and a key file that group or others can read is refused.

Options override the configuration file. The relay stops gracefully on SIGTERM or SIGINT and tells systemd when it is ready (Type=notify).`,
		Flags:  fs,
		Hidden: []string{"man"},
		Sections: []clidoc.Section{
			{Title: "Files", Items: []clidoc.Item{
				{Term: "/etc/chat-relay/relay.toml", Text: "configuration, every key commented with its default"},
				{Term: "$STATE_DIRECTORY/relay.key", Text: "the relay's identity key (./relay.key outside systemd)"},
			}},
			{Title: "Exit status", Text: "0 after a graceful stop, 1 on an error or a bad option (one line on stderr)."},
		},
		SeeAlso: []string{"chat-tracker(8)", "chatd(1)"},
	}
}
