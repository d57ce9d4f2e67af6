package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/internal/testenv"
)

// The harness: TestMain builds the three binaries once; each test makes a
// testEnv (private HOME and XDG directories, a short socket directory),
// starts a tracker and daemons as child processes, and drives them with
// chatctl. Every child is stopped with SIGTERM in Cleanup and must exit 0.

var (
	binDir  string // the built binaries
	repoDir string // the module root

	startedMu sync.Mutex
	started   []int // every PID a test started, checked once all tests ran
)

// Deadlines for outcomes; tests wait for what should happen, they never
// measure how fast it happened.
const (
	waitLimit = 20 * time.Second
	stopLimit = 20 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		// Every test skips in newEnv; building the binaries would be wasted.
		fmt.Println("e2e: -short: not building the binaries, every test skips")
		return m.Run()
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoDir = root
	dir, err := os.MkdirTemp("", "e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/chat-tracker", "./cmd/chatd", "./cmd/chatctl", "./cmd/chat-relay", "./cmd/natdemo")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build binaries:", err)
		return 1
	}
	binDir = dir
	code := m.Run()
	if left := leftoverPIDs(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: processes started by the tests are still running: %v\n", left)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		code = 1
	}
	return code
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the module")
	}
	return filepath.Dir(gomod), nil
}

func bin(name string) string { return filepath.Join(binDir, name) }

// leftoverPIDs lists started PIDs that still exist. Each was reaped by
// Wait, so an existing one means a process outlived its test.
func leftoverPIDs() []int {
	startedMu.Lock()
	defer startedMu.Unlock()
	var left []int
	for _, pid := range started {
		if alive(pid) {
			left = append(left, pid)
		}
	}
	return left
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// needOrSkip skips the test for a missing dependency, or fails it under
// CI=true, where a skipped suite would hide breakage.
func needOrSkip(t *testing.T, reason string) {
	testenv.SkipOrFail(t, reason)
}

// testEnv is one test's private world: HOME and the XDG directories point
// into it, so no real user file is read or written.
type testEnv struct {
	t       *testing.T
	home    string
	sockDir string // short path: Unix socket paths must stay under 108 bytes
	config  string // chatd config with fast timers
	env     []string
}

const fastConfig = `# short timers so the tests see reconnects and registrations quickly
[presence]
check_interval = "200ms"
observe_interval = "1s"
backoff_max = "300ms"

[peer]
keepalive = "1s"
handshake_timeout = "5s"
backoff_min = "20ms"
backoff_max = "300ms"
`

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: e2e tests build and run the real binaries")
	}
	// The children are checked by TestMain (leftoverPIDs); this checks the
	// goroutines the test itself starts (process waiters, pipes, proxies).
	leakcheck.Check(t)
	home := t.TempDir()
	sockDir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	e := &testEnv{t: t, home: home, sockDir: sockDir, config: filepath.Join(home, "chatd.toml")}
	if err := os.WriteFile(e.config, []byte(fastConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || k == "CHATD_SOCKET" || k == "NOTIFY_SOCKET" || k == "TERM" ||
			strings.HasPrefix(k, "XDG_") || strings.HasPrefix(k, "LISTEN_") {
			continue
		}
		e.env = append(e.env, kv)
	}
	e.env = append(e.env, "HOME="+home,
		"XDG_RUNTIME_DIR="+filepath.Join(home, "run"),
		"XDG_STATE_HOME="+filepath.Join(home, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"))
	return e
}

// userEnv is the part of the environment that describes our fake user
// (for commands that pass environment on explicitly, like tmux).
func (e *testEnv) userEnv() []string {
	var out []string
	for _, kv := range e.env {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_") {
			out = append(out, kv)
		}
	}
	return out
}

// freeAddr returns a loopback address with a port that was free a moment
// ago (listen on :0, close, reuse).
func freeAddr(t *testing.T) string {
	t.Helper()
	// Ports from the kernel's ephemeral range (":0") can be handed to an
	// outgoing connection between this check and the program's bind, so
	// pick below it, and never the same port twice in one run.
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		if portsUsed[p] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		portsUsed[p] = true
		return addr
	}
	t.Fatal("no free port in 20000-32000")
	return ""
}

var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", waitLimit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tracker is a running chat-tracker.
type tracker struct {
	*proc
	addr, url, db string
}

func (e *testEnv) startTracker() *tracker {
	e.t.Helper()
	return e.startTrackerAt(freeAddr(e.t), filepath.Join(e.t.TempDir(), "tracker.db"))
}

// Every process in a test reaches the tracker from 127.0.0.1, so the
// per-source rate limit (meant for one user's daemon) would throttle the
// whole test: it gets a generous one.
const trackerConfig = `
rate_limit = 1000.0
rate_burst = 1000
`

// startTrackerAt runs chat-tracker on addr with the database db (a SQLite
// path or a postgres:// URL) and waits until /healthz answers.
func (e *testEnv) startTrackerAt(addr, db string) *tracker {
	t := e.t
	t.Helper()
	cfg := filepath.Join(e.t.TempDir(), "tracker.toml")
	if err := os.WriteFile(cfg, []byte(trackerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	p := e.start("chat-tracker "+addr, bin("chat-tracker"), "--config", cfg, "--listen", addr, "--db", db, "--log-format", "console")
	tr := &tracker{proc: p, addr: addr, url: "http://" + addr, db: db}
	client := &http.Client{Timeout: time.Second}
	waitFor(t, "tracker /healthz on "+addr, func() bool {
		if !p.running() {
			t.Fatalf("chat-tracker exited at start: %v\n%s", p.err, p.out)
		}
		resp, err := client.Get(tr.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return tr
}

// result is what one chatctl run printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// ctl runs chatctl against sock with our fake user's environment.
func (e *testEnv) ctl(sock, stdin string, args ...string) result {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit+stopLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("chatctl"), append([]string{"--socket", sock}, args...)...)
	cmd.Env = e.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run chatctl %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("chatctl %q did not finish within %v", args, waitLimit+stopLimit)
	}
	return result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// want fails the test unless chatctl exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("chatctl exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}
