package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/testenv"

	"golang.org/x/sys/unix"
)

// terminal is a pseudo-terminal with chatctl on its far side, so attach
// runs in raw mode with its line editor, exactly as in a real terminal.
type terminal struct {
	t      *testing.T
	master *os.File
	mu     sync.Mutex
	screen strings.Builder // everything chatctl wrote, escape sequences and all
	done   chan struct{}
}

func openTerminal(t *testing.T) (*terminal, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		skipOrFail(t, "no pseudo-terminals: "+err.Error())
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, master: m, done: make(chan struct{})}
	go term.read()
	t.Cleanup(func() {
		m.Close()
		<-term.done
	})
	return term, s
}

func (term *terminal) read() {
	defer close(term.done)
	buf := make([]byte, 4096)
	for {
		n, err := term.master.Read(buf)
		term.mu.Lock()
		term.screen.Write(buf[:n])
		term.mu.Unlock()
		if err != nil {
			return // EIO once chatctl exits and the last slave closes
		}
	}
}

func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.screen.String()
}

func (term *terminal) waitFor(substr string) string {
	term.t.Helper()
	term.waitAfter(0, substr)
	return term.output()
}

// waitAfter waits for substr to appear at or after byte offset from.
func (term *terminal) waitAfter(from int, substr string) {
	term.t.Helper()
	for range 3000 { // a hang guard (30 s), not a speed limit
		if strings.Contains(term.output()[from:], substr) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	term.t.Fatalf("terminal never showed %q after offset %d; it shows:\n%q", substr, from, term.output())
}

func (term *terminal) typeKeys(s string) {
	if _, err := term.master.WriteString(s); err != nil {
		term.t.Fatal(err)
	}
}

func TestAttachInTerminal(t *testing.T) {
	b, sock := daemon(t)
	term, slave := openTerminal(t)
	cmd := command(sock, "attach", "bob")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { // on failure, so the terminal's reader sees EIO and ends
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	term.waitFor("bob> ")
	term.typeKeys("half typed")
	term.waitFor("half typed")
	b.Receive("bob", "ping")
	// The incoming line is printed on a cleared row, then the prompt comes
	// back with the half-typed text and the cursor after it (column 15).
	out := term.waitFor("← bob: ping")
	i := strings.Index(out, "← bob: ping")
	if j := strings.LastIndex(out[:i], "\r\x1b[K"); j < 0 || len(out[j:i]) != len("\r\x1b[K15:04 ") {
		t.Errorf("incoming line not printed on a cleared row: %q", out[max(0, i-40):])
	}
	term.waitAfter(i, "\rbob> half typed\x1b[K\r\x1b[15C")
	term.typeKeys(" line\r")
	term.waitFor("→ bob: half typed line …")
	hist, _ := b.History(context.Background(), "bob", 10, 0)
	if len(hist) != 2 || hist[1].Body != "half typed line" {
		t.Fatalf("daemon has %+v", hist)
	}
	b.Deliver("bob", hist[1].ID)
	// The pending mark becomes a check mark in place: cursor up, rewrite.
	term.waitFor("\x1b[1A\r\x1b[K" + hist[1].SentAt.Local().Format("15:04") + " → bob: half typed line ✓")
	term.typeKeys("\x04") // Ctrl-D leaves
	if err := cmd.Wait(); err != nil {
		t.Fatalf("attach: %v\n%q", err, term.output())
	}
}

func skipOrFail(t *testing.T, reason string) {
	testenv.SkipOrFail(t, reason)
}
