package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/relay"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chat-relay-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "chat-relay")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build chat-relay: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestBinaryServesAndStops runs chat-relay, reads the relay address it
// prints, relays a connection between two identities through it, reads
// its metrics and stops it with SIGTERM.
func TestBinaryServesAndStops(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "relay.key")
	cmd := exec.Command(binary(t), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--key", keyPath)
	stdout, _ := cmd.StdoutPipe()
	logs := &syncBuf{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no relay address on stdout: %v", err)
	}
	addr, err := relay.ParseAddr(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("printed %q: %v", line, err)
	}
	if st, err := os.Stat(keyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bob, _ := identity.Generate(nil)
	res, err := relay.Reserve(ctx, addr, bob.Private, nil)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	defer res.Close()
	go func() {
		c, _, err := res.Accept(ctx)
		if err == nil {
			io.Copy(c, c) // echo
			c.Close()
		}
	}()
	c, err := relay.Connect(ctx, addr, bob.Public, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	c.Write([]byte("echo"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "echo" {
		t.Fatalf("echo: %q %v", got, err)
	}
	c.Close()

	var serving struct{ Metrics string }
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"relay serving"`) {
			json.Unmarshal([]byte(l), &serving)
		}
	}
	resp, err := http.Get("http://" + serving.Metrics + "/metrics")
	if err != nil {
		t.Fatalf("metrics at %q: %v\n%s", serving.Metrics, err, logs.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "relay_sessions_total 1") {
		t.Fatalf("metrics do not count the session:\n%s", body)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	select {
	case <-res.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the reservation outlived the relay")
	}
	if !strings.Contains(logs.String(), `"relay stopped"`) {
		t.Fatalf("no stop line in the logs:\n%s", logs.String())
	}
}

// syncBuf collects the child's stderr while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBinaryRefusesReadableKey(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "relay.key")
	if _, _, err := loadOrCreateKey(keyPath); err != nil {
		t.Fatal(err)
	}
	os.Chmod(keyPath, 0o644)
	out, err := exec.Command(binary(t), "--listen", "127.0.0.1:0", "--metrics-listen", "", "--key", keyPath).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "chmod 600") {
		t.Fatalf("exit %v, output %s; want 1 and a chmod hint", err, out)
	}
}
