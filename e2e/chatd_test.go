package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/natlab"
)

// chatd is one user's daemon: its name, data directory and control socket
// survive restarts, so a restarted daemon is the same user.
type chatd struct {
	e       *testEnv
	name    string
	tracker string // tracker URL
	data    string
	sock    string
	p       *proc // the current process; nil before the first start
	// For daemons in the NAT lab: the namespace host it runs on, its
	// listen address, its config file and extra flags.
	host   *natlab.Host
	listen string
	config string
	flags  []string
}

// newChatd describes a daemon without starting it.
func (e *testEnv) newChatd(name, trackerURL string) *chatd {
	return &chatd{
		e: e, name: name, tracker: trackerURL,
		data:   filepath.Join(e.home, "data-"+name),
		sock:   filepath.Join(e.sockDir, name+".sock"),
		listen: "127.0.0.1:0", config: e.config,
	}
}

// startDaemon runs chatd for name and waits until chatctl status answers
// and says it is registered on the tracker.
func (e *testEnv) startDaemon(name, trackerURL string) *chatd {
	e.t.Helper()
	d := e.newChatd(name, trackerURL)
	d.start()
	d.waitRegistered()
	return d
}

func (d *chatd) args() []string {
	return append([]string{
		"--config", d.config, "--name", d.name, "--tracker", d.tracker,
		"--listen", d.listen, "--data-dir", d.data, "--control-socket", d.sock,
	}, d.flags...)
}

// start runs the process; it does not wait for anything.
func (d *chatd) start() {
	d.e.t.Helper()
	if d.host != nil {
		d.p = d.e.startCmd("chatd "+d.name, d.host.Command(context.Background(), bin("chatd"), d.args()...))
		return
	}
	d.p = d.e.start("chatd "+d.name, append([]string{bin("chatd")}, d.args()...)...)
}

// restart starts a stopped (or killed) daemon again and waits until it is
// registered.
func (d *chatd) restart() {
	d.e.t.Helper()
	if d.p != nil && d.p.running() {
		d.e.t.Fatalf("restart %s: still running", d.name)
	}
	d.start()
	d.waitRegistered()
}

func (d *chatd) stop() { d.e.t.Helper(); d.p.stop() }
func (d *chatd) kill() { d.e.t.Helper(); d.p.kill() }

type statusJSON struct {
	Name         string      `json:"name"`
	Fingerprint  string      `json:"fingerprint"`
	PublicKey    string      `json:"public_key"`
	TrackerState string      `json:"tracker_state"`
	Sessions     int         `json:"sessions"`
	ListenAddr   string      `json:"listen_addr"`
	PublicAddrs  []string    `json:"public_addrs"`
	PortMap      portMapJSON `json:"port_map"`
	Relay        struct {
		State string `json:"state"`
		Relay string `json:"relay"`
	} `json:"relay"`
	Upgrades struct {
		PunchAttempts int `json:"punch_attempts"`
		Punched       int `json:"punched"`
		Reversed      int `json:"reversed"`
	} `json:"upgrades"`
	Online []struct {
		Name       string  `json:"name"`
		Path       string  `json:"path"`
		RemoteAddr string  `json:"remote_addr"`
		RTTMillis  float64 `json:"rtt_ms"`
	} `json:"online"`
}

type portMapJSON struct {
	State     string    `json:"state"`
	Detail    string    `json:"detail"`
	Method    string    `json:"method"`
	Gateway   string    `json:"gateway"`
	External  string    `json:"external"`
	Expires   time.Time `json:"expires"`
	Permanent bool      `json:"permanent"`
	BehindNAT bool      `json:"behind_nat"`
	LastError string    `json:"last_error"`
}

// status returns chatctl status --json, or ok=false if it failed.
func (d *chatd) status() (statusJSON, bool) {
	d.e.t.Helper()
	r := d.ctl("status", "--json")
	var st statusJSON
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		return st, false
	}
	return st, true
}

func (d *chatd) waitRegistered() {
	t := d.e.t
	t.Helper()
	waitFor(t, d.name+" answers chatctl status and is registered", func() bool {
		if d.p != nil && !d.p.running() {
			t.Fatalf("chatd %s exited at start: %v\n%s", d.name, d.p.err, d.p.out)
		}
		st, ok := d.status()
		return ok && st.TrackerState == "registered"
	})
}

// ctl runs chatctl against this daemon.
func (d *chatd) ctl(args ...string) result {
	d.e.t.Helper()
	return d.e.ctl(d.sock, "", args...)
}

// must runs chatctl and fails the test unless it exits 0; it returns stdout.
func (d *chatd) must(args ...string) string {
	d.e.t.Helper()
	return d.ctl(args...).want(d.e.t, 0).stdout
}

// message is one entry of chatctl history --json, as a script sees it.
type message struct {
	ID        string    `json:"id"`
	Peer      string    `json:"peer"`
	Direction string    `json:"direction"`
	Body      string    `json:"body"`
	SentAt    time.Time `json:"sent_at"`
	State     string    `json:"state"`
}

func (d *chatd) history(peer string) []message {
	t := d.e.t
	t.Helper()
	out := d.must("history", peer, "--json", "--limit", "1000")
	var ms []message
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("%s: history %s --json: %v\n%s", d.name, peer, err, out)
	}
	return ms
}

// bodies is the conversation as "in:text" / "out:text" lines, in order.
func (d *chatd) bodies(peer string) []string {
	d.e.t.Helper()
	var out []string
	for _, m := range d.history(peer) {
		out = append(out, m.Direction+":"+m.Body)
	}
	return out
}

// waitBodies polls history until the conversation is exactly want.
func (d *chatd) waitBodies(peer string, want []string) {
	t := d.e.t
	t.Helper()
	var got []string
	deadline := time.Now().Add(waitLimit)
	for {
		got = d.bodies(peer)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) || len(got) > len(want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s's history with %s:\n  got  %q\n  want %q", d.name, peer, got, want)
}

// waitAllDelivered polls until every outgoing message to peer is delivered.
func (d *chatd) waitAllDelivered(peer string) {
	d.e.t.Helper()
	waitFor(d.e.t, d.name+"'s messages to "+peer+" delivered", func() bool {
		for _, m := range d.history(peer) {
			if m.Direction == "out" && m.State != "delivered" {
				return false
			}
		}
		return true
	})
}

// lookPath finds a tool the test needs, or skips (fails under CI).
func lookPath(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		needOrSkip(t, name+" not installed: "+why)
	}
	return p
}

func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Getuid() != 0 {
		needOrSkip(t, "not root: "+why)
	}
}

// befriend makes a and b contacts of each other (chatctl add, both ways),
// as two people who agreed to talk would: without it, what one sends is a
// request at the other's until accepted. Both must be registered.
func befriend(a, b *chatd) {
	a.e.t.Helper()
	a.must("add", b.name)
	b.must("add", a.name)
}
