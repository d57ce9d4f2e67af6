package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one child process with its output kept for the failure log.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed once Wait returned
	err  error         // Wait's result, set before done closes
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a child until the test ends; Cleanup stops it (it must exit
// 0) and, if the test failed, logs what it printed.
func (e *testEnv) start(name string, args ...string) *proc {
	e.t.Helper()
	return e.startCmd(name, exec.Command(args[0], args[1:]...))
}

func (e *testEnv) startCmd(name string, cmd *exec.Cmd) *proc {
	t := e.t
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = e.env
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	startedMu.Lock()
	started = append(started, cmd.Process.Pid)
	startedMu.Unlock()
	p := &proc{t: t, name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.running() {
			p.stop()
		}
		if t.Failed() {
			t.Logf("--- output of %s (pid %d) ---\n%s", name, cmd.Process.Pid, lastLines(out.String(), 150))
		}
	})
	return p
}

// lastLines keeps a failure log readable when a process logged in a loop.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("[%d earlier lines omitted]\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and requires a clean exit (status 0) in time.
func (p *proc) stop() {
	p.t.Helper()
	if !p.running() {
		p.t.Errorf("%s: stop: already exited (%v)", p.name, p.err)
		return
	}
	p.signal(syscall.SIGTERM)
	if !p.wait(stopLimit) {
		p.t.Errorf("%s (pid %d) still running %v after SIGTERM; killing it", p.name, p.pid(), stopLimit)
		p.kill()
		return
	}
	if p.err != nil {
		p.t.Errorf("%s (pid %d) exited uncleanly after SIGTERM: %v", p.name, p.pid(), p.err)
	}
	if alive(p.pid()) {
		p.t.Errorf("%s (pid %d) reaped but the PID still exists", p.name, p.pid())
	}
}

// kill sends SIGKILL, as a crash or the OOM killer would, and reaps it.
func (p *proc) kill() {
	p.t.Helper()
	p.signal(syscall.SIGKILL)
	if !p.wait(stopLimit) {
		p.t.Fatalf("%s (pid %d) survived SIGKILL", p.name, p.pid())
	}
}

func (p *proc) signal(sig syscall.Signal) {
	if err := syscall.Kill(p.pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.t.Errorf("signal %s: %v", p.name, err)
	}
}

func (p *proc) wait(limit time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(limit):
		return false
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exitCode waits for the process to end by itself and returns its status.
func (p *proc) exitCode() int {
	p.t.Helper()
	if !p.wait(waitLimit) {
		p.t.Fatalf("%s did not exit within %v\n%s", p.name, waitLimit, p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}
