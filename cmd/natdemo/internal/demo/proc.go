package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/p2pchat/p2pchat/internal/natlab"
)

// stopTimeout is how long a process has to exit after SIGTERM.
const stopTimeout = 5 * time.Second

// proc is one program the demo started inside the lab, logging to a file.
// A goroutine waits for it and closes done.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // from Wait, valid after done
}

// start runs bin with args on host h, its output going to logPath. The
// process gets a process group of its own, so that a Ctrl-C on the
// terminal reaches only the demo, which then stops it; the kernel kills it
// if the demo dies.
func start(h *natlab.Host, name, logPath, bin string, args ...string) (*proc, error) {
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own copy
	cmd := h.Command(context.Background(), bin, args...)
	cmd.SysProcAttr.Setpgid = true
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits.
func (p *proc) stop() error {
	if p.exited() {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v; killed", p.name, p.pid(), stopTimeout)
}

// exitError says that p ended, with the end of its log.
func (p *proc) exitError() error {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return fmt.Errorf("%s exited (%v); its log ends:\n%s", p.name, p.err, strings.Join(lines, "\n"))
}
