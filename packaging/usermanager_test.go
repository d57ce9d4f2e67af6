package packaging

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// userManager is a standalone `systemd --user` the test runs, as root,
// with a private HOME and XDG_RUNTIME_DIR. PID 1 here is not systemd, so
// two workarounds make it run (found by trying):
//   - systemd refuses to start (exit 1, a message on /dev/console) unless
//     /run/systemd/system/ exists, so it is created for the start-up only;
//   - systemd moves every process of the cgroup it starts in into its own
//     init.scope, so it is started in a private child cgroup made below
//     the test's own in each hierarchy (name=systemd, memory, and the
//     unified one when mounted), removed afterwards.
type userManager struct {
	t       *testing.T
	home    string
	runtime string
	cmd     *exec.Cmd
	log     *bytes.Buffer
	done    chan struct{}
	cgroups []string
}

func startUserManager(t *testing.T, home string) *userManager {
	t.Helper()
	systemd := "/lib/systemd/systemd"
	if _, err := os.Stat(systemd); err != nil {
		needTool(t, "systemd")
	}
	m := &userManager{t: t, home: home, runtime: filepath.Join(home, "run"), log: &bytes.Buffer{}, done: make(chan struct{})}
	if err := os.MkdirAll(m.runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	m.cgroups = childCgroups(t, fmt.Sprintf("p2pchat-test-%d", os.Getpid()))
	t.Cleanup(m.stop)

	made := false
	if _, err := os.Stat("/run/systemd/system"); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll("/run/systemd/system", 0o755); err != nil {
			t.Fatal(err)
		}
		made = true
	}
	// The shell moves itself into the private cgroups, then becomes systemd.
	script := `for f; do echo $$ > "$f/cgroup.procs" || exit 1; done; exec ` + systemd + ` --user`
	m.cmd = exec.Command("sh", append([]string{"-c", script, "sh"}, m.cgroups...)...)
	m.cmd.Env = m.env()
	m.cmd.Env = append(m.cmd.Env, "SYSTEMD_LOG_TARGET=console", "SYSTEMD_LOG_LEVEL=info")
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.cmd.Wait(); close(m.done) }()
	waitFor(t, "systemd --user to listen", func() bool {
		select {
		case <-m.done:
			t.Fatalf("systemd --user exited: %v\n%s", m.cmd.ProcessState, m.log)
		default:
		}
		_, err := os.Stat(filepath.Join(m.runtime, "systemd", "private"))
		return err == nil
	})
	if made {
		os.Remove("/run/systemd/system")
	}
	return m
}

// env is the environment of the manager and of the user's commands.
func (m *userManager) env() []string {
	env := []string{"HOME=" + m.home, "XDG_RUNTIME_DIR=" + m.runtime, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	return env
}

// run runs a command as the user would, failing the test on error.
func (m *userManager) run(name string, args ...string) string {
	m.t.Helper()
	out, err := m.try(name, args...)
	if err != nil {
		m.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (m *userManager) try(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = m.env()
	cmd.Dir = m.home
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (m *userManager) systemctl(args ...string) string {
	m.t.Helper()
	return m.run("systemctl", append([]string{"--user"}, args...)...)
}

// show reads one property of a unit.
func (m *userManager) show(unit, prop string) string {
	m.t.Helper()
	out, _ := m.try("systemctl", "--user", "show", "-P", prop, unit)
	return strings.TrimSpace(out)
}

// stop ends the manager (SIGTERM to its PID, then SIGKILL) and removes the
// private cgroups once they are empty.
func (m *userManager) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.try("systemctl", "--user", "stop", "chatd.socket", "chatd.service")
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(20 * time.Second):
			m.t.Errorf("systemd --user (pid %d) did not stop on SIGTERM; killing it", m.cmd.Process.Pid)
			m.cmd.Process.Kill()
			<-m.done
		}
		if m.t.Failed() {
			m.t.Logf("systemd --user output:\n%s", lastLines(m.log.String(), 80))
		}
	}
	for _, cg := range m.cgroups {
		removeCgroup(m.t, cg)
	}
}

// childCgroups makes name below the test's own cgroup in each hierarchy
// systemd uses here and returns their directories.
func childCgroups(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "9:name=systemd:/path", "4:memory:/path", "0::/path"
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var mount string
		switch parts[1] {
		case "name=systemd":
			mount = "/sys/fs/cgroup/systemd"
		case "memory":
			mount = "/sys/fs/cgroup/memory"
		case "":
			mount = "/sys/fs/cgroup/unified"
			if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
				mount = "/sys/fs/cgroup" // a pure cgroup2 machine
			}
		default:
			continue
		}
		if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
			continue
		}
		dir := filepath.Join(mount, parts[2], name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatalf("make cgroup %s: %v", dir, err)
		}
		dirs = append(dirs, dir)
	}
	if len(dirs) == 0 {
		t.Fatal("no cgroup hierarchy to start systemd --user in")
	}
	return dirs
}

// removeCgroup removes dir and the cgroups systemd made below it, deepest
// first, waiting for their processes to be gone.
func removeCgroup(t *testing.T, dir string) {
	var all []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			all = append(all, p)
		}
		return nil
	})
	for i := len(all) - 1; i >= 0; i-- {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := syscall.Rmdir(all[i])
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if time.Now().After(deadline) {
				procs, _ := os.ReadFile(filepath.Join(all[i], "cgroup.procs"))
				t.Errorf("remove cgroup %s: %v (processes: %s)", all[i], err, strings.Fields(string(procs)))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
