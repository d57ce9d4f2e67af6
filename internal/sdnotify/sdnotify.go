// Package sdnotify tells systemd how a Type=notify service is doing, over
// the sd_notify(3) protocol (through go-systemd): READY=1 once it serves,
// STATUS= lines for `systemctl status`, WATCHDOG=1 pings, STOPPING=1 when
// shutdown begins. Outside systemd (no NOTIFY_SOCKET) every call does
// nothing, so callers need no "am I under systemd" checks.
//
//	n := sdnotify.New(log)
//	every := n.WatchdogInterval() / 3 // 0 without WatchdogSec=
//	n.Ready("serving")
//	n.Watchdog() // from the loop that must keep running
package sdnotify

import (
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// Notifier sends state to systemd. Its methods are safe for concurrent use.
type Notifier struct {
	log      *zap.Logger
	watchdog time.Duration

	mu     sync.Mutex // guards status
	status string     // the last STATUS= sent, to send only changes
}

// New reads the watchdog interval systemd set (WATCHDOG_USEC for this PID).
func New(log *zap.Logger) *Notifier {
	if log == nil {
		log = zap.NewNop()
	}
	wd, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("read the systemd watchdog interval", zap.Error(err))
	}
	return &Notifier{log: log, watchdog: wd}
}

// WatchdogInterval is WatchdogSec=, or 0 when the watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Ready says the service is up, with a status line.
func (n *Notifier) Ready(status string) {
	n.mu.Lock()
	n.status = status
	n.mu.Unlock()
	n.send(sddaemon.SdNotifyReady + "\nSTATUS=" + status)
}

// Status replaces the status line if it changed.
func (n *Notifier) Status(status string) {
	n.mu.Lock()
	same := status == n.status
	n.status = status
	n.mu.Unlock()
	if !same {
		n.send("STATUS=" + status)
	}
}

// Watchdog pings systemd's watchdog.
func (n *Notifier) Watchdog() {
	if n.watchdog > 0 {
		n.send(sddaemon.SdNotifyWatchdog)
	}
}

// Stopping says shutdown has begun.
func (n *Notifier) Stopping() {
	n.send(sddaemon.SdNotifyStopping + "\nSTATUS=stopping")
}

func (n *Notifier) send(state string) {
	if _, err := sddaemon.SdNotify(false, state); err != nil {
		n.log.Warn("notify systemd", zap.Error(err))
	}
}
