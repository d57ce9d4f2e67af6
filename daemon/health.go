package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Notifier is told how the daemon is doing; cmd/chatd passes one that
// speaks sd_notify(3) (internal/sdnotify), tests pass a recorder.
//
// Ready comes once Run serves (the peer port and control socket are bound
// and every part is running) and the first health check passed; Watchdog
// comes only from the main loop, after each health check that passed, so a
// stuck loop, a store that does not answer or a deadlocked peer manager
// stops the pings and lets systemd's watchdog restart chatd; Stopping
// comes as soon as shutdown begins.
type Notifier interface {
	Ready(status string)
	Status(status string)
	Watchdog()
	Stopping()
}

type nopNotifier struct{}

func (nopNotifier) Ready(string)  {}
func (nopNotifier) Status(string) {}
func (nopNotifier) Watchdog()     {}
func (nopNotifier) Stopping()     {}

// defaultHealthInterval is how often the main loop checks the parts when
// Options.HealthInterval is not set.
const defaultHealthInterval = 5 * time.Second

// mainLoop is Run's own loop: every health interval it checks that the
// parts answer, pings the watchdog if they did and refreshes the status
// line, until ctx ends.
func (d *Daemon) mainLoop(ctx context.Context) {
	n := d.notify
	every := d.healthEvery
	first := true
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d.stallForTest(ctx)
		status, err := d.checkHealth(ctx, every)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			d.log.Warn("health check failed; not pinging the watchdog", zap.Error(err))
			n.Status("unhealthy: " + lower(err))
		case first:
			n.Ready(status)
			first = false
			n.Watchdog()
		default:
			n.Status(status)
			n.Watchdog()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkHealth asks every part that matters for what the status line
// shows: the store (a read, bounded by limit), the peer manager and the
// presence loop's state (both behind their locks). Any of them stuck keeps
// checkHealth from returning, which is the point.
func (d *Daemon) checkHealth(ctx context.Context, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cs, err := d.store.Contacts(ctx)
	if err != nil {
		return "", fmt.Errorf("read contacts: %w", err)
	}
	st, err := ctlBackend{d}.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("read status: %w", err)
	}
	online := map[string]bool{}
	for _, s := range d.peers.Sessions() {
		online[s.Peer] = true
	}
	n := 0
	for _, c := range cs {
		if online[c.Name] {
			n++
		}
	}
	return StatusLine(st, n, len(cs)), nil
}

// StatusLine is the one-line summary systemctl status shows (STATUS=):
// who, the tracker state, contacts online, and the router-mapped address
// once there is one.
func StatusLine(st api.Status, online, contacts int) string {
	parts := []string{st.Name + ": tracker " + st.TrackerState}
	parts = append(parts, fmt.Sprintf("%d of %d contacts online", online, contacts))
	if len(st.PublicAddrs) > 0 {
		parts = append(parts, "mapped "+strings.Join(st.PublicAddrs, " "))
	}
	return strings.Join(parts, "; ")
}

// stallForTest blocks the main loop while the file Options.StallFile names
// exists. It exists only so that tests can show that a stuck main loop
// lets systemd's watchdog fire (CHATD_TEST_STALL_FILE in cmd/chatd).
func (d *Daemon) stallForTest(ctx context.Context) {
	if d.stallFile == "" {
		return
	}
	for {
		if _, err := os.Stat(d.stallFile); errors.Is(err, os.ErrNotExist) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
