package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds chat-tracker once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chat-tracker-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "chat-tracker")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build chat-tracker: %v", buildErr)
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

type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
	done chan struct{} // closed when stderr is drained
}

// start runs the binary and waits for the "tracker serving" log line, which
// carries the address it actually listens on.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}, done: make(chan struct{})}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addrc := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "tracker serving" {
				addrc <- line.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case p.addr = <-addrc:
	case <-p.done:
		cmd.Wait()
		t.Fatalf("chat-tracker exited before serving:\n%s", p.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("chat-tracker did not start serving:\n%s", p.logs)
	}
	return p
}

// stop sends SIGTERM and requires a clean exit 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("chat-tracker after SIGTERM: %v\n%s", err, p.logs)
	}
	if !strings.Contains(p.logs.String(), "tracker stopped") {
		t.Errorf("no graceful shutdown in the logs:\n%s", p.logs)
	}
}

func registerAndLookup(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	s, err := record.Sign(record.Record{Name: "alice", PublicKey: priv.Public().(ed25519.PublicKey),
		Addrs: []string{"192.0.2.1:7000"}, Seq: 1, Expires: time.Now().Add(time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	ann, err := c.Register(ctx, s)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if !ann.Observed.Addr().IsLoopback() || ann.Observed.Port() == 0 {
		t.Errorf("observed %v, want our loopback address and port", ann.Observed)
	}
	got, _, err := c.Lookup(ctx, "alice")
	if err != nil || got.Seq != 1 {
		t.Fatalf("lookup: %+v %v", got, err)
	}
}

func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tracker.db")
	p := start(t, "--listen", "127.0.0.1:0", "--db", db)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	registerAndLookup(t, client.New("http://"+p.addr, &http.Client{Transport: tr}))
	p.stop(t)

	// The record survives a restart: it is in the SQLite file.
	p = start(t, "--listen", "127.0.0.1:0", "--db", db)
	tr2 := &http.Transport{}
	defer tr2.CloseIdleConnections()
	if _, _, err := client.New("http://"+p.addr, &http.Client{Transport: tr2}).Lookup(context.Background(), "alice"); err != nil {
		t.Fatalf("lookup after restart: %v", err)
	}
	p.stop(t)
}

func TestBinaryServesTLS(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir)
	cfg := filepath.Join(dir, "tracker.toml")
	body := `listen = "127.0.0.1:0"
db = "` + filepath.Join(dir, "t.db") + `"
tls_cert = "` + filepath.Join(dir, "cert.pem") + `"
tls_key = "` + filepath.Join(dir, "key.pem") + `"
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "--config", cfg)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	registerAndLookup(t, client.New("https://"+p.addr, &http.Client{Transport: tr}))
	p.stop(t)
}

func TestBinaryRefusesBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "tracker.toml")
	os.WriteFile(cfg, []byte(`listen_adress = "x"`), 0o600)
	out, err := exec.Command(binary(t), "--config", cfg).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("bad config: %v, want exit status 1", err)
	}
	if !strings.Contains(string(out), "listen_adress") {
		t.Errorf("error output does not name the bad key: %s", out)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and returns a
// pool that trusts it.
func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test tracker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
