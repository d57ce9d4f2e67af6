package control_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

// The user the server runs as in TestOwnerUIDCheckAsNonRoot: nobody, with
// a primary group other than its uid, so that a check comparing the wrong
// id cannot pass by accident.
const (
	ownerUID = 65534
	ownerGID = 100
)

// helperServeAsOwner plays chatd run by an ordinary user: it serves the
// control socket at sock, allowing its own uid, says "ready" and serves
// until stdin closes.
func helperServeAsOwner(sock string) int {
	ln, err := control.Listen(sock)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &control.Server{Backend: controltest.NewBackend("nobody"), Log: zap.NewNop(), UID: os.Getuid()}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	cancel()
	if err := <-done; err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// TestRefusesOtherUID checks the peer-credential rule with chatd as root
// and the caller an ordinary user. This is the other side: chatd runs as an
// ordinary user; that user gets in, and root, who could connect to any
// socket, is refused like anyone else.
func TestOwnerUIDCheckAsNonRoot(t *testing.T) {
	controltest.CheckGoroutines(t)
	if os.Getuid() != 0 {
		skipOrFail(t, "needs root to run helper processes as another user")
	}
	base := shortDir(t)
	if err := os.Chown(base, ownerUID, ownerGID); err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(base, "helper")
	copyFile(t, mustExecutable(t), helper)
	sock := filepath.Join(base, "run", "control.sock")
	asOwner := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: ownerUID, Gid: ownerGID}}

	srv := exec.Command(helper, sock)
	srv.Env = append(os.Environ(), helperEnv+"=serve-as-owner")
	srv.SysProcAttr = asOwner
	stdin, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	out := bufio.NewReader(stdout)
	ready := make(chan string, 1)
	go func() {
		line, _ := out.ReadString('\n')
		ready <- line
		rest, _ := io.ReadAll(out)
		exited <- fmt.Errorf("%s", rest)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case rest := <-exited:
			if err := srv.Wait(); err != nil {
				t.Errorf("server as uid %d: %v %v", ownerUID, err, rest)
			}
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
			srv.Wait()
			t.Error("server as uid 65534 did not stop within 10s of stdin closing")
		}
	})
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("server as uid %d: %q", ownerUID, line)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("server as uid %d not ready within 10s", ownerUID)
	}

	// Its owner, as a process of its own, is served.
	get := exec.Command(helper, sock)
	get.Env = append(os.Environ(), helperEnv+"=get-status")
	get.SysProcAttr = asOwner
	b, err := get.CombinedOutput()
	if err != nil {
		t.Fatalf("request as uid %d: %v\n%s", ownerUID, err, b)
	}
	if !strings.HasPrefix(string(b), "200 ") || !strings.Contains(string(b), `"name":"nobody"`) {
		t.Fatalf("request from the owner, uid %d: got %q, want 200 and the status", ownerUID, b)
	}

	// Root (this process) is refused, although the socket lets it connect.
	root := rawClient(sock)
	defer root.CloseIdleConnections()
	resp, err := root.Get("http://" + api.Host + api.PathStatus)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"code":"forbidden"`) || !strings.Contains(string(body), "uid 0 may not") {
		t.Fatalf("request from root to a chatd of uid %d: %d %s, want 403 forbidden naming uid 0", ownerUID, resp.StatusCode, body)
	}
}
