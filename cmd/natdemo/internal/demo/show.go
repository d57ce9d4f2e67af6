package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/internal/natlab"
)

// pathWatch prints each change of the path alice's session with bob takes.
type pathWatch struct {
	d    *demo
	last string // "" while there is no session
}

// poll reads alice's status and prints a change; it returns the path.
func (w *pathWatch) poll(ctx context.Context) string {
	st, err := w.d.alice.status(ctx)
	if err != nil {
		return w.last
	}
	s, ok := st.sessionWith("bob")
	path := s.Path
	if !ok {
		path = ""
	}
	if path != w.last {
		w.last = path
		if path == "" {
			w.d.say("alice → bob: no session")
		} else {
			w.d.say("alice → bob: %s (remote %s, rtt %.1f ms)", path, s.RemoteAddr, s.RTTMillis)
		}
	}
	return path
}

// show sends the first message while watching the path until it is
// punched (cone NATs) or has stayed relayed for Hold (symmetric NATs); then
// bob answers, and both status outputs and how to talk are printed.
func (d *demo) show(ctx context.Context) error {
	w := &pathWatch{d: d}
	const first = "hi bob, this is alice"
	d.say("alice sends: chatctl send --wait bob %q", first)
	sent := make(chan error, 1)
	go func() {
		_, err := d.alice.ctl(ctx, "send", "--wait", "--timeout", "20s", "bob", first)
		sent <- err
	}()
	var delivered, relayedSince time.Time
	deadline := time.Now().Add(punchLimit)
	for {
		select {
		case err := <-sent:
			if err != nil {
				return err
			}
			delivered = time.Now()
			d.say("delivered to bob")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
		if err := d.exited(); err != nil {
			return err
		}
		path := w.poll(ctx)
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
	d.watch = w
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
		d.watch.poll(ctx)
	}
}
