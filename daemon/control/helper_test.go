package control_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

// The test binary doubles as a helper process: as another user it makes a
// request, and under fake socket activation it serves one.
const helperEnv = "CONTROL_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "get-status":
		os.Exit(helperGetStatus(os.Args[len(os.Args)-1]))
	case "systemd":
		os.Exit(helperServeActivated())
	case "serve-as-owner":
		os.Exit(helperServeAsOwner(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func helperGetStatus(sock string) int {
	resp, err := rawClient(sock).Get("http://chatd" + api.PathStatus)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, b)
	return 0
}

// helperServeActivated plays chatd started by systemd with one socket on
// fd 3. LISTEN_PID must name this process, which the parent cannot know
// before starting it, so the child sets it.
func helperServeActivated() int {
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	ln, err := control.ListenerFromSystemd()
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	srv := &control.Server{Backend: controltest.NewBackend("activated"), Log: zap.NewNop(), UID: os.Getuid()}
	if err := srv.Serve(context.Background(), ln); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

func TestRefusesOtherUID(t *testing.T) {
	controltest.CheckGoroutines(t)
	if os.Getuid() != 0 {
		skipOrFail(t, "needs root to run a helper process as another user")
	}
	b := controltest.NewBackend("alice")
	sock := controltest.Serve(t, b)
	dir := filepath.Dir(sock)
	// Open the way for uid 65534 for this test only, so that the refusal
	// comes from the peer-credential check and not from file modes.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(dir, "helper")
	copyFile(t, mustExecutable(t), helper)
	cmd := exec.Command(helper, sock)
	cmd.Env = append(os.Environ(), helperEnv+"=get-status")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "403 ") || !strings.Contains(string(out), `"code":"forbidden"`) {
		t.Fatalf("request from uid 65534: got %q, want 403 forbidden", out)
	}
}

func TestServesSocketActivatedListener(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := filepath.Join(shortDir(t), "control.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(mustExecutable(t))
	cmd.Env = append(os.Environ(), helperEnv+"=systemd", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f} // becomes fd 3, as systemd passes it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// Our own listener is never accepted on, so the answer can only come
	// from the child serving the inherited socket.
	resp, err := rawClient(sock).Get("http://chatd" + api.PathStatus)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"name":"activated"`) {
		t.Fatalf("socket-activated server answered %d %q", resp.StatusCode, b)
	}
}

func mustExecutable(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
