//go:build linux

package e2e

import (
	"github.com/p2pchat/p2pchat/internal/testenv"

	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // for the integrity check of bob's database
)

// A full disk, as a user would meet it: bob's data directory is a small
// tmpfs, filled up with a file until nothing more fits. What alice sends
// waits in her outbox (bob acknowledges nothing he could not store); bob's
// own send fails with an error that says the disk is full; bob's chatd
// stays up, answers status, and survives a restart; once the file is
// deleted everything arrives, once and in order, and bob can send again.

const fullDiskSize = 16 << 20 // the tmpfs; far more than chatd needs empty

func TestFullDiskLosesNothing(t *testing.T) {
	needRoot(t, "mounts a small tmpfs as bob's data directory")
	e := newEnv(t)
	tr := e.startTracker()
	alice := e.startDaemon("alice", tr.url)
	bob := e.newChatd("bob", tr.url)
	mnt := testenv.Tmpfs(t, filepath.Join(e.home, "bob-disk"), fullDiskSize)
	bob.data = filepath.Join(mnt, "data")
	bob.start()
	bob.waitRegistered()
	befriend(alice, bob)
	alice.must("send", "--wait", "bob", "before")
	bob.must("send", "--wait", "alice", "before, back")
	want := []string{"in:before", "out:before, back"} // bob's view of the conversation

	filler := filepath.Join(mnt, "filler")
	filled := testenv.FillDisk(t, filler)
	t.Cleanup(func() { os.Remove(filler) })
	fullSince := time.Now()

	// bob's own send: a clear error, nothing queued. SQLite may still
	// have room in its WAL file for a few commits; those sends succeed,
	// are stored, and must arrive like any other.
	var fromBob []string
	var refused result
	for i := 1; ; i++ {
		body := fmt.Sprintf("from a full disk %02d", i)
		r := bob.ctl("send", "alice", body)
		if r.code != 0 {
			refused = r
			break
		}
		fromBob = append(fromBob, body)
		if i == 50 {
			t.Fatalf("bob's chatd stored 50 messages on a full disk")
		}
	}
	if refused.code != exitError {
		t.Errorf("send on a full disk: exit %d, want %d\n%s", refused.code, exitError, refused.stderr)
	}
	checkErrorLines(t, refused, "disk is full")
	if !strings.Contains(refused.stderr, "ENOSPC") {
		t.Errorf("send on a full disk: error does not name ENOSPC:\n%s", refused.stderr)
	}
	if _, ok := bob.status(); !ok {
		t.Fatal("bob's chatd does not answer status on a full disk")
	}
	stored := len(fromBob)

	// alice's messages reach bob's chatd, which cannot store them: it
	// must not acknowledge them, so they stay in alice's outbox. It
	// refuses them with the reason, which alice's send --wait prints.
	var fromAlice []string
	r := alice.ctl("send", "--wait", "--timeout", "15s", "bob", "while full 00")
	fromAlice = append(fromAlice, "while full 00")
	if r.code == 0 || !strings.Contains(r.stderr, "the recipient's disk is full") {
		t.Errorf("alice's send --wait to bob's full disk: exit %d, want the refusal's reason:\n%s", r.code, r.stderr)
	}
	if !hasLine(alice.p.out.String(), "refused", "the recipient's disk is full") {
		t.Error("alice's chatd did not log bob's refusal")
	}
	for i := 1; i <= 20; i++ {
		body := fmt.Sprintf("while full %02d", i)
		alice.must("send", "bob", body)
		fromAlice = append(fromAlice, body)
	}
	waitFor(t, "bob's chatd to report it could not store alice's messages", func() bool {
		return hasLine(bob.p.out.String(), "deliver", "disk is full")
	})
	storedFromAlice := checkAckedStored(t, alice, bob, fromAlice)

	// A crash and restart on the full disk: SQLite's WAL and index
	// files are still there. chatd may refuse to start, but it must lose
	// and corrupt nothing.
	first, fullFor := bob.p, time.Since(fullSince)
	bob.kill()
	logged := strings.Count(first.out.String(), "disk is full")
	filled += testenv.FillDisk(t, filler)
	afterCrash := restartFull(t, bob)

	// Space again: everything arrives, once and in order.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	if !bob.p.running() {
		bob.restart()
	}
	want = append(want, out(fromBob)...)
	want = append(want, in(fromAlice)...)
	bob.waitBodies("alice", want)
	alice.waitAllDelivered("bob")
	bob.waitAllDelivered("alice")
	recovered := time.Since(freed)
	bob.must("send", "--wait", "alice", "space again")
	want = append(want, "out:space again")
	alice.waitBodies("bob", flip(want))
	bob.waitBodies("alice", want)

	// A start on a disk that filled up while chatd was stopped (say,
	// across a reboot): a clean stop removed SQLite's WAL and index
	// files, and they cannot be made again. chatd must say so in one
	// line (SQLite says only "disk I/O error") and exit 1.
	bob.stop()
	refill := testenv.FillDisk(t, filler)
	afterStop := startStoppedFull(t, bob)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	bob.restart()
	bob.waitBodies("alice", want)

	bob.stop()
	checkIntegrity(t, filepath.Join(bob.data, "chatd.db"))
	t.Logf("full disk: %d MiB tmpfs, filler %.1f MiB; bob stored %d of his own sends before the first refusal: %q; "+
		"alice's send --wait: %q; of %d alice sent, bob stored %d while full and acknowledged only those; bob logged %d lines about the full disk in %v; "+
		"after freeing space all %d delivered in %v", fullDiskSize>>20, float64(filled)/(1<<20), stored,
		firstLine(refused.stderr), firstLine(r.stderr), len(fromAlice), storedFromAlice, logged, fullFor.Round(time.Millisecond),
		len(fromAlice)+len(fromBob), recovered.Round(time.Millisecond))
	t.Logf("start on the full disk after SIGKILL: %s", afterCrash)
	t.Logf("start on a disk filled (%.1f MiB) while chatd was stopped: %s", float64(refill)/(1<<20), afterStop)
}

// checkAckedStored requires that, of bodies sent while to's disk is
// full, every one the sender sees delivered is in the receiver's history:
// the receiver acknowledges only what it stored.
// It returns how many of them the receiver stored.
func checkAckedStored(t *testing.T, from, to *chatd, bodies []string) int {
	t.Helper()
	sent := map[string]bool{}
	for _, b := range bodies {
		sent[b] = true
	}
	stored := map[string]bool{}
	n := 0
	for _, m := range to.history(from.name) {
		stored[m.Body] = true
		if sent[m.Body] {
			n++
		}
	}
	for _, m := range from.history(to.name) {
		if sent[m.Body] && m.State == "delivered" && !stored[m.Body] {
			t.Errorf("%q is delivered, yet not in %s's history", m.Body, to.name)
		}
	}
	return n
}

// hasLine reports whether a line of out contains all of words.
func hasLine(out string, words ...string) bool {
	for line := range strings.Lines(out) {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}

// restartFull starts d on its full disk and says what happened: up and
// answering (a send then fails with the full-disk error), or refusing to
// start with one line on stderr and exit status 1. Either is acceptable;
// what matters is checked after space returns: nothing lost.
func restartFull(t *testing.T, d *chatd) string {
	t.Helper()
	d.start()
	var up bool
	waitFor(t, d.name+" to start or exit on a full disk", func() bool {
		if !d.p.running() {
			return true
		}
		_, up = d.status()
		return up
	})
	if up {
		checkErrorLines(t, d.ctl("send", "alice", "after a restart on a full disk"), "disk is full")
		return "chatd started, answers status, and refuses sends with the full-disk error"
	}
	out := strings.TrimSpace(d.p.out.String())
	last := out[strings.LastIndex(out, "\n")+1:]
	if code := d.p.cmd.ProcessState.ExitCode(); code != 1 || !strings.HasPrefix(last, "chatd: ") {
		t.Errorf("chatd on a full disk exited %d, want 1 and a 'chatd: ' error line; last line: %s", code, last)
	}
	return "chatd refused to start (exit 1): " + last
}

// startStoppedFull starts d on a disk that filled while it was stopped
// and requires that it refuse to start: exit 1, and as its last line the
// one-line full-disk error naming the data directory.
func startStoppedFull(t *testing.T, d *chatd) string {
	t.Helper()
	d.start()
	code := d.p.exitCode()
	out := strings.TrimSpace(d.p.out.String())
	last := out[strings.LastIndex(out, "\n")+1:]
	want := "chatd: disk is full: cannot open the database in " + d.data + "; hint: free some space"
	if code != 1 || !strings.HasPrefix(last, want) {
		t.Errorf("chatd on a disk filled while it was stopped: exit %d, last line:\n%s\nwant exit 1 and a line beginning:\n%s", code, last, want)
	}
	return "chatd refused to start (exit 1): " + last
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// flip turns one side's view of a conversation into the other's.
func flip(lines []string) []string {
	r := make([]string, len(lines))
	for i, l := range lines {
		if b, ok := strings.CutPrefix(l, "in:"); ok {
			r[i] = "out:" + b
		} else {
			r[i] = "in:" + strings.TrimPrefix(l, "out:")
		}
	}
	return r
}

// checkIntegrity runs SQLite's integrity check on a database no process
// has open.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatalf("integrity check of %s: %v", path, err)
	}
	if res != "ok" {
		t.Errorf("integrity check of %s: %s", path, res)
	}
}
