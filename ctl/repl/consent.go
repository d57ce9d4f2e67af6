package repl

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// This file holds the consent commands: requests from people who are not
// contacts, and the block list.

func runRequests(ctx context.Context, con *console, a *args) error {
	rs, err := con.c.Requests(ctx)
	if err != nil {
		return err
	}
	if a.json {
		return con.printJSON(rs)
	}
	writeRequests(con.out, rs)
	return nil
}

func writeRequests(w io.Writer, rs []api.Request) {
	if len(rs) == 0 {
		fmt.Fprintln(w, msgNoRequests)
		return
	}
	for i, r := range rs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := cleanLine(r.Name)
		fmt.Fprintf(w, "%s (fingerprint %s), %d message%s", name, cleanLine(r.Fingerprint), len(r.Messages), plural(len(r.Messages)))
		if r.Dropped > 0 {
			fmt.Fprintf(w, ", %d older dropped", r.Dropped)
		}
		fmt.Fprintln(w, ":")
		for _, m := range r.Messages {
			fmt.Fprintln(w, "  "+formatMessage(m, true, time.Time{}))
		}
		fmt.Fprintf(w, "  chatctl accept %s | chatctl decline %s | chatctl block %s\n", name, name, name)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func runAccept(ctx context.Context, con *console, a *args) error {
	c, err := con.c.AcceptRequest(ctx, a.pos[0])
	if err != nil {
		return err
	}
	return con.print(a, c, msgAccepted(c))
}

func runDecline(ctx context.Context, con *console, a *args) error {
	if err := con.c.DeclineRequest(ctx, a.pos[0]); err != nil {
		return err
	}
	return con.print(a, map[string]string{"declined": a.pos[0]}, msgDeclined(a.pos[0]))
}

func runBlock(ctx context.Context, con *console, a *args) error {
	b, err := con.c.Block(ctx, a.pos[0])
	if err != nil {
		return err
	}
	return con.print(a, b, msgBlocked(b))
}

func runUnblock(ctx context.Context, con *console, a *args) error {
	if err := con.c.Unblock(ctx, a.pos[0]); err != nil {
		return err
	}
	return con.print(a, map[string]string{"unblocked": a.pos[0]}, msgUnblocked(a.pos[0]))
}

func runBlocked(ctx context.Context, con *console, a *args) error {
	bs, err := con.c.BlockList(ctx)
	if err != nil {
		return err
	}
	if a.json {
		return con.printJSON(bs)
	}
	if len(bs) == 0 {
		fmt.Fprintln(con.out, msgNoBlocked)
		return nil
	}
	tw := tabwriter.NewWriter(con.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFINGERPRINT\tBLOCKED")
	for _, b := range bs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cleanLine(b.Name), cleanLine(b.Fingerprint), b.BlockedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

const (
	msgNoRequests = "no requests: messages from people who are not your contacts wait here until you accept them"
	msgNoBlocked  = "nobody is blocked"
)

func msgAccepted(c api.Contact) string {
	c.Name, c.Fingerprint = cleanLine(c.Name), cleanLine(c.Fingerprint)
	return fmt.Sprintf("accepted %s, fingerprint %s: their messages are in 'chatctl history %s'\nhint: compare the fingerprint with %s out of band, then run 'chatctl verify %s FINGERPRINT'",
		c.Name, c.Fingerprint, c.Name, c.Name, c.Name)
}

func msgDeclined(name string) string {
	return fmt.Sprintf("declined %s's request; what they send next is a new request ('chatctl block %s' stops them)", cleanLine(name), cleanLine(name))
}

func msgBlocked(b api.Blocked) string {
	return fmt.Sprintf("blocked %s (fingerprint %s): that key is refused under any name", cleanLine(b.Name), cleanLine(b.Fingerprint))
}

func msgUnblocked(who string) string { return fmt.Sprintf("unblocked %s", cleanLine(who)) }
