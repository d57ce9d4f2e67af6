package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/internal/testenv"
)

// The test binary doubles as a helper process: run as another user, it
// listens on a socket and reports how many bytes its one client wrote.
const helperEnv = "CLIENT_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "listen" {
		os.Exit(helperListen(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func helperListen(sock string) int {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	c, err := ln.Accept()
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := io.Copy(io.Discard, c) // until the client closes, or the deadline
	fmt.Printf("read %d bytes\n", n)
	return 0
}

// Another user who can put a socket where chatd's should be gets nothing:
// the client sees the server's uid and closes before writing a byte.
func TestRefusesServerOfOtherUID(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.SkipOrFail(t, "needs root to run a helper process as another user")
	}
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(dir, "helper")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(helper, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "control.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper, sock)
	cmd.Env = append(os.Environ(), helperEnv+"=listen")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	out := bufio.NewReader(stdout)
	if line, _ := out.ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper as uid 65534: %q", line)
	}

	c := &client.Client{Socket: sock}
	_, err = c.Status(ctx)
	if !errors.Is(err, client.ErrForeignDaemon) || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("Status on a socket served by uid 65534: got %v, want ErrForeignDaemon naming the uid", err)
	}
	line, _ := out.ReadString('\n')
	if line != "read 0 bytes\n" {
		t.Errorf("the server of uid 65534 got the request: %q", line)
	}
}
