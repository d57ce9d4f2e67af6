package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// demoEnv runs scripts/demo.sh with our binaries, a short private state
// directory and free ports.
func demoEnv(t *testing.T) (e *testEnv, dir string, env []string) {
	t.Helper()
	lookPath(t, "setsid", "demo.sh starts the daemons in sessions of their own (util-linux)")
	e = newEnv(t)
	dir = filepath.Join(e.sockDir, "demo")
	env = append(append([]string(nil), e.env...),
		"DEMO_DIR="+dir, "DEMO_BIN="+binDir,
		"DEMO_PORT="+port(t), "DEMO_ALICE_PORT="+port(t), "DEMO_BOB_PORT="+port(t))
	// Whatever happens, the processes the script started are stopped.
	t.Cleanup(func() {
		pids := demoPIDs(dir)
		if len(pids) == 0 {
			return
		}
		stop := exec.Command("bash", filepath.Join(repoDir, "scripts", "demo.sh"), "stop")
		stop.Env = env
		out, err := stop.CombinedOutput()
		for _, pid := range pids {
			if alive(pid) && !zombie(pid) {
				t.Errorf("demo process %d still running after cleanup (%v: %s); killing it", pid, err, out)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return e, dir, env
}

func port(t *testing.T) string {
	_, p, _ := strings.Cut(freeAddr(t), ":")
	return p
}

func demoScript(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{filepath.Join(repoDir, "scripts", "demo.sh")}, args...)...)
	cmd.Env = env
	cmd.Dir = repoDir
	return cmd
}

// demoPIDs reads the PIDs the script recorded ("PID NAME" lines).
func demoPIDs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if pid, err := strconv.Atoi(f[0]); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zombie reports whether pid has exited and waits for a parent to reap it
// (the script's children are reparented once it exits).
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func checkDemoOutput(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{
		"→ bob: hi bob, this is alice ✓",
		"← bob: hi alice, bob here",
		"← alice: hi bob, this is alice",
		"→ alice: hi alice, bob here ✓",
		"chatctl --socket ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	waitFor(t, "the demo's processes to exit", func() bool {
		for _, pid := range pids {
			if alive(pid) && !zombie(pid) {
				return false
			}
		}
		return true
	})
}

// make demo with DEMO_DETACH=1, then make demo-stop.
func TestDemoScriptDetached(t *testing.T) {
	_, dir, env := demoEnv(t)
	out, err := demoScript(append(env, "DEMO_DETACH=1"), "start").CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh start: %v\n%s", err, out)
	}
	checkDemoOutput(t, string(out))
	pids := demoPIDs(dir)
	if len(pids) != 3 {
		t.Fatalf("pids file lists %v, want tracker, alice and bob", pids)
	}
	for _, pid := range pids {
		if !alive(pid) || zombie(pid) {
			t.Errorf("pid %d is not running after a detached start", pid)
		}
	}
	// The daemons it left running are usable.
	r := (&testEnv{t: t, env: env}).ctl(filepath.Join(dir, "alice.sock"), "", "send", "--wait", "bob", "after the demo")
	if r.code != 0 {
		t.Errorf("send after the demo: exit %d: %s", r.code, r.stderr)
	}

	if out, err := demoScript(env, "stop").CombinedOutput(); err != nil {
		t.Fatalf("demo.sh stop: %v\n%s", err, out)
	}
	waitGone(t, pids)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo.sh stop left %s behind (%v)", dir, err)
	}
}

// The foreground demo stops everything on Ctrl-C (SIGINT).
func TestDemoScriptForeground(t *testing.T) {
	e, dir, env := demoEnv(t)
	cmd := demoScript(env, "start")
	p := e.startCmd("demo.sh start", cmd)
	waitOutput(t, p, "running; press Ctrl-C to stop")
	checkDemoOutput(t, p.out.String())
	pids := demoPIDs(dir)
	p.signal(syscall.SIGINT)
	if code := p.exitCode(); code != 0 {
		t.Errorf("demo.sh exited %d on Ctrl-C\n%s", code, p.out)
	}
	waitGone(t, pids)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo.sh left %s behind on Ctrl-C (%v)", dir, err)
	}
}
