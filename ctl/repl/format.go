package repl

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
)

func (con *console) print(a *args, v any, human string) error {
	if a.json {
		return con.printJSON(v)
	}
	_, err := fmt.Fprintln(con.out, human)
	return err
}

// printJSON writes v as indented JSON: the field names are the API's, so
// the output is as stable as the API.
func (con *console) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = fmt.Fprintf(con.out, "%s\n", b)
	return err
}

// Marks for a message's state.
func stateMark(state string) string {
	switch state {
	case api.StateQueued, api.StateSent:
		return "…"
	case api.StateDelivered:
		return "✓"
	}
	return ""
}

// formatMessage is one message for people: time, arrow (→ to, ← from),
// name, body, state mark. withDate adds the date for history listings.
// received is when chatd got an incoming message (zero if unknown): it is
// shown, marked, if the sender's timestamp is implausible (messageTime).
func formatMessage(m api.Message, withDate bool, received time.Time) string {
	layout := "15:04"
	if withDate {
		layout = "2006-01-02 15:04"
	}
	arrow := "←"
	when := messageTime(m.SentAt, received, time.Now(), layout)
	if m.Direction == api.DirectionOut {
		arrow = "→"
		when = m.SentAt.Local().Format(layout) // our own clock
	}
	s := fmt.Sprintf("%s %s %s: %s", when, arrow, cleanLine(m.Peer), indentBody(cleanBody(m.Body), len([]rune(when))+1))
	if mark := stateMark(m.State); mark != "" {
		s += " " + mark
	}
	return s
}

func formatReceipt(m api.Message) string {
	body := []rune(cleanLine(strings.ReplaceAll(m.Body, "\n", " ")))
	if len(body) > 40 {
		body = append(body[:39], '…')
	}
	return fmt.Sprintf("%s ✓ %s got: %s", time.Now().Format("15:04"), cleanLine(m.Peer), string(body))
}

// indentBody lines up the continuation lines of a multi-line message
// under the arrow, width columns in (past the time).
func indentBody(s string, width int) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", width))
}

func writeContacts(w io.Writer, cs []api.Contact) {
	if len(cs) == 0 {
		fmt.Fprintln(w, msgNoContacts)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFINGERPRINT\tVERIFIED\tONLINE\tLAST SEEN")
	for _, c := range cs {
		seen := "-"
		if !c.LastSeen.IsZero() {
			seen = c.LastSeen.Local().Format("2006-01-02 15:04")
		}
		online := yesNo(c.Online)
		if c.Session != nil {
			online = cleanLine(sessionLine(*c.Session))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cleanLine(c.Name), cleanLine(c.Fingerprint), yesNo(c.Verified), online, seen)
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeStatus(w io.Writer, st api.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", cleanLine(k), cleanLine(v)) }
	row("name", st.Name)
	row("fingerprint", st.Fingerprint)
	row("public key", st.PublicKey)
	row("listening on", st.ListenAddr)
	row("observed as", orDash(strings.Join(st.ObservedAddrs, ", ")))
	row("mapped as", orDash(strings.Join(st.PublicAddrs, ", ")))
	row("port mapping", portMapLine(st.PortMap))
	row("relay", relayLine(st.Relay))
	if u := st.Upgrades; u.PunchAttempts+u.Reversed > 0 {
		row("upgrades", fmt.Sprintf("%d punched in %d attempts, %d reversed", u.Punched, u.PunchAttempts, u.Reversed))
	}
	row("tracker", st.TrackerState)
	row("sessions", fmt.Sprint(st.Sessions))
	requests := "none"
	if st.Requests > 0 {
		requests = fmt.Sprintf("%d waiting: chatctl requests", st.Requests)
	}
	row("requests", requests)
	for _, p := range st.Online {
		row("  "+p.Name, sessionLine(p.Session))
	}
	row("version", st.Version)
	row("up for", (time.Duration(st.UptimeSeconds) * time.Second).String())
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sessionLine says how an online contact is reached, e.g.
// "relayed via 11.0.0.20:7072, rtt 1.3 ms".
func sessionLine(s api.Session) string {
	out := s.Path + " " + s.RemoteAddr
	if s.Path == api.PathRelayed {
		out = s.Path + " via " + s.RemoteAddr
	}
	if s.RTTMillis > 0 {
		out += fmt.Sprintf(", rtt %.1f ms", s.RTTMillis)
	}
	return out
}

// relayLine is the status line for the relay reservation.
func relayLine(r api.Relay) string {
	switch r.State {
	case "", api.RelayOff:
		return "off"
	case api.RelayReserved:
		return "reserved on " + r.Relay
	case api.RelayFailed:
		return "failed on " + r.Relay + ": " + r.LastError
	}
	return r.State
}

// portMapLine is the status line for the router port mapping, e.g.
// "upnp via 192.168.1.1: 11.0.0.2:7171, lease until 14:05:09".
func portMapLine(p api.PortMap) string {
	switch p.State {
	case "":
		return "-"
	case api.PortMapOff:
		return "off (" + p.Detail + ")"
	case api.PortMapMapped:
		s := fmt.Sprintf("%s via %s: %s", p.Method, p.Gateway, p.External)
		if p.Permanent {
			s += ", permanent (deleted when chatd stops)"
		} else {
			s += ", lease until " + p.Expires.Local().Format("15:04:05")
		}
		if p.BehindNAT {
			s += "; behind another NAT, not published"
		}
		return s
	}
	if p.LastError != "" {
		return p.State + ": " + p.LastError
	}
	return p.State
}

// confirm asks a yes/no question on the terminal and returns nil only for
// yes. Without a terminal to ask on it fails, so that a script must say
// --yes. It reads byte by byte, leaving what follows the answer for the
// shell.
func (con *console) confirm(question string) error {
	if !isTerminal(con.in) {
		return errNeedsYes
	}
	fmt.Fprint(con.errw, question)
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := con.in.Read(b)
		if n == 1 && b[0] != '\n' {
			line = append(line, b[0])
			continue
		}
		if n == 1 || err != nil {
			break
		}
	}
	switch strings.ToLower(strings.TrimSpace(string(line))) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}
