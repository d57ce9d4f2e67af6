package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/internal/natlab"
)

// pathWatch prints each change of the path alice's session with bob
// takes, as alice's event stream reports it: every session that comes up,
// an upgrade included, is a presence event with its path, so no change is
// missed however fast it follows the one before (polling the status could
// miss a relayed session upgraded within milliseconds).
type pathWatch struct {
	d     *demo
	w     *client.Watcher
	paths chan string // each path alice's session with bob takes ("" when it ends)
	done  chan struct{}
	last  string
}

// watchPaths follows alice's events from now on until close.
func (d *demo) watchPaths(ctx context.Context) (*pathWatch, error) {
	c := &client.Client{Socket: d.alice.sock}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("alice: status: %w", err)
	}
	w, err := c.Watch(ctx, st.EventCursor)
	if err != nil {
		return nil, fmt.Errorf("alice: watch events: %w", err)
	}
	pw := &pathWatch{d: d, w: w, paths: make(chan string, 64), done: make(chan struct{})}
	go pw.run()
	return pw, nil
}

func (pw *pathWatch) run() {
	defer close(pw.done)
	defer close(pw.paths)
	for {
		ev, err := pw.w.Next()
		if err != nil {
			return
		}
		if ev.Type != api.EventPresence || ev.Peer != "bob" || ev.Online == nil {
			continue
		}
		path := ev.Path
		if !*ev.Online {
			path = ""
			pw.d.say("alice → bob: no session")
		} else {
			pw.d.say("alice → bob: %s (remote %s)", path, ev.Addr)
		}
		select {
		case pw.paths <- path:
		default: // the demo reads the newest path from last when it looks
		}
		pw.last = path
	}
}

// close stops following the events.
func (pw *pathWatch) close() {
	pw.w.Close()
	<-pw.done
}

// show sends the first message while watching the path until it is
// punched (cone NATs) or has stayed relayed for Hold (symmetric NATs); then
// bob answers, and both status outputs and how to talk are printed.
func (d *demo) show(ctx context.Context) error {
	w, err := d.watchPaths(ctx)
	if err != nil {
		return err
	}
	d.watch = w
	// Without it alice's message would wait at bob's as a request.
	d.say("bob adds alice as a contact: chatctl add alice")
	if _, err := d.bob.ctl(ctx, "add", "alice"); err != nil {
		return err
	}
	const first = "hi bob, this is alice"
	d.say("alice sends: chatctl send --wait bob %q", first)
	sent := make(chan error, 1)
	go func() {
		_, err := d.alice.ctl(ctx, "send", "--wait", "--timeout", "20s", "bob", first)
		sent <- err
	}()
	var delivered, relayedSince time.Time
	deadline := time.Now().Add(punchLimit)
	path := ""
	for {
		select {
		case err := <-sent:
			if err != nil {
				return err
			}
			delivered = time.Now()
			d.say("delivered to bob")
		case p, ok := <-w.paths:
			if !ok {
				return fmt.Errorf("alice's event stream ended")
			}
			path = p
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
		if err := d.exited(); err != nil {
			return err
		}
		if path == "relayed" && relayedSince.IsZero() {
			relayedSince = time.Now()
		} else if path != "relayed" {
			relayedSince = time.Time{}
		}
		if delivered.IsZero() {
			continue
		}
		if d.c.NAT == natlab.Cone && path == "punched" {
			break
		}
		if d.c.NAT == natlab.Symmetric && !relayedSince.IsZero() && time.Since(relayedSince) >= d.c.Hold {
			d.say("still relayed after %.0fs: a symmetric NAT gives every connection a new public port, so the punch cannot meet; only the relay joins them", d.c.Hold.Seconds())
			break
		}
		if time.Now().After(deadline) {
			want := map[natlab.NATMode]string{natlab.Cone: "punched", natlab.Symmetric: "relayed"}[d.c.NAT]
			return fmt.Errorf("the path is %q %v after the first message, want %s with %s NATs; see the logs in %s", path, punchLimit, want, d.c.NAT, d.c.ShowDir)
		}
	}
	const reply = "hi alice, bob here"
	d.say("bob replies: chatctl send --wait alice %q", reply)
	if _, err := d.bob.ctl(ctx, "send", "--wait", "--timeout", "20s", "alice", reply); err != nil {
		return err
	}
	d.say("delivered to alice")
	for _, u := range []*user{d.alice, d.bob} {
		out, err := u.ctl(ctx, "status")
		if err != nil {
			return err
		}
		fmt.Fprintf(d.out, "\n%s's chatctl status:\n", u.name)
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			fmt.Fprintf(d.out, "  %s\n", line)
		}
	}
	fmt.Fprintln(d.out)
	ctl := d.c.ShowBin + "/chatctl"
	fmt.Fprintf(d.out, "talk as alice:  %s --socket %s/alice.sock attach bob\n", ctl, d.c.ShowDir)
	fmt.Fprintf(d.out, "talk as bob:    %s --socket %s/bob.sock attach alice\n", ctl, d.c.ShowDir)
	fmt.Fprintf(d.out, "logs:           %s/*.log\n", d.c.ShowDir)
	return nil
}

// stay keeps everything running until ctx ends, printing path changes and
// failing when a process exits.
func (d *demo) stay(ctx context.Context) error {
	fmt.Fprintln(d.out)
	d.say("running; press Ctrl-C to stop")
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(d.out)
			d.say("stopping")
			return nil
		case <-time.After(time.Second):
		}
		if err := d.exited(); err != nil {
			return err
		}
	}
}
