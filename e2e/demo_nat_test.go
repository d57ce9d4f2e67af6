package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/p2pchat/p2pchat/internal/natlab"
)

// demoNAT runs scripts/demo-nat.sh (bin/natdemo) with our binaries and a
// short private state directory.
func demoNAT(t *testing.T, env ...string) (e *testEnv, dir string, p *proc) {
	t.Helper()
	needRoot(t, "make demo-nat builds network namespaces")
	if err := natlab.Check(); err != nil {
		needOrSkip(t, err.Error())
	}
	e = newEnv(t)
	dir = filepath.Join(e.sockDir, "demo-nat")
	cmd := exec.Command("bash", filepath.Join(repoDir, "scripts", "demo-nat.sh"))
	cmd.Env = append(append(append([]string(nil), e.env...), "DEMO_BIN="+binDir, "DEMO_NAT_DIR="+dir), env...)
	return e, dir, e.startCmd("demo-nat.sh", cmd)
}

var demoPIDRE = regexp.MustCompile(`\(pid (\d+)\)`)

// checkDemoNATGone checks that the demo, whose process is p, left no
// process it started, no namespace of its lab and not its directory.
func checkDemoNATGone(t *testing.T, p *proc, dir string) {
	t.Helper()
	out := p.out.String()
	var pids []int
	for _, m := range demoPIDRE.FindAllStringSubmatch(out, -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	if len(pids) != 4 {
		t.Errorf("the demo names PIDs %v, want chat-tracker's, chat-relay's and two chatd's:\n%s", pids, out)
	}
	for _, pid := range pids {
		if alive(pid) && !zombie(pid) {
			t.Errorf("pid %d, started by the demo, is still running after it exited; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	entries, _ := os.ReadDir("/var/run/netns")
	prefix := fmt.Sprintf("p2pc-%d-", p.pid()) // bash execs natdemo: the lab's owner
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("namespace %s is left after the demo", e.Name())
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the demo left %s behind (%v)", dir, err)
	}
}

// wantInOrder checks that out holds each of want, in that order.
func wantInOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("demo output lacks %q (after the earlier lines wanted):\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
}

// Cone NATs, non-interactively (DEMO_ONCE=1): the first message goes
// through the relay, then the path is punched; the demo exits 0 and leaves
// nothing behind.
func TestDemoNATCone(t *testing.T) {
	_, dir, p := demoNAT(t, "DEMO_ONCE=1")
	if code := p.exitCode(); code != 0 {
		t.Fatalf("demo-nat.sh exited %d\n%s", code, p.out)
	}
	out := p.out.String()
	wantInOrder(t, out, "alice sends: chatctl send --wait bob", "alice → bob: relayed", "alice → bob: punched",
		"bob replies", "alice's chatctl status:", "bob:         punched", "bob's chatctl status:",
		"alice:       punched", "talk as bob:", "attach alice", "stopped 4 processes")
	if !strings.Contains(out, "delivered to bob") {
		t.Errorf("the first message was not shown delivered:\n%s", out)
	}
	t.Logf("demo-nat output:\n%s", out)
	checkDemoNATGone(t, p, dir)
}

// Symmetric NATs in the foreground: the path stays relayed; Ctrl-C
// (SIGINT) stops everything.
func TestDemoNATSymmetricCtrlC(t *testing.T) {
	_, dir, p := demoNAT(t, "DEMO_NAT=symmetric")
	waitOutput(t, p, "running; press Ctrl-C to stop")
	out := p.out.String()
	wantInOrder(t, out, "alice → bob: relayed", "still relayed after", "bob:         relayed", "alice:       relayed")
	if strings.Contains(out, "bob: punched") || strings.Contains(out, "alice: punched") {
		t.Errorf("symmetric NATs, yet a punched path:\n%s", out)
	}
	p.signal(syscall.SIGINT)
	if code := p.exitCode(); code != 0 {
		t.Errorf("demo-nat.sh exited %d on Ctrl-C\n%s", code, p.out)
	}
	checkDemoNATGone(t, p, dir)
}
