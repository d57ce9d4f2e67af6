package peer

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/p2pchat/p2pchat/daemon/identity"
)

// wireTap is a TCP proxy on loopback that records every byte it copies,
// each direction apart: what an observer on the path sees.
type wireTap struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	up    bytes.Buffer // guarded by mu: caller → target
	down  bytes.Buffer // guarded by mu: target → caller
	conns []net.Conn   // guarded by mu
}

// startTap proxies connections to target until the test ends.
func startTap(t *testing.T, target string) *wireTap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireTap{ln: ln}
	w.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			w.mu.Lock()
			w.conns = append(w.conns, c, s)
			w.mu.Unlock()
			w.wg.Go(func() { w.copy(s, c, &w.up) })
			w.wg.Go(func() { w.copy(c, s, &w.down) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		w.mu.Lock()
		for _, c := range w.conns {
			c.Close()
		}
		w.mu.Unlock()
		w.wg.Wait()
	})
	return w
}

func (w *wireTap) copy(dst, src net.Conn, rec *bytes.Buffer) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			w.mu.Lock()
			rec.Write(buf[:n])
			w.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	src.Close()
	dst.Close()
}

func (w *wireTap) recorded() (up, down []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.up.Bytes()), bytes.Clone(w.down.Bytes())
}

// identityForms are the ways a key may show up on the wire.
func identityForms(key ed25519.PublicKey) map[string][]byte {
	fp := identity.Fingerprint(key)
	return map[string][]byte{
		"raw key":                []byte(key),
		"base64":                 []byte(base64.StdEncoding.EncodeToString(key)),
		"base64 unpadded":        []byte(base64.RawStdEncoding.EncodeToString(key)),
		"base64url":              []byte(base64.URLEncoding.EncodeToString(key)),
		"base64url unpadded":     []byte(base64.RawURLEncoding.EncodeToString(key)),
		"hex":                    []byte(hex.EncodeToString(key)),
		"fingerprint":            []byte(fp),
		"fingerprint, no dashes": []byte(strings.ReplaceAll(fp, "-", "")),
	}
}

// TestWireShowsNoIdentity records a whole conversation between two real
// managers and looks for either user in it: keys (raw, base64, hex),
// fingerprints and names travel only inside TLS 1.3.
func TestWireShowsNoIdentity(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	const aliceName, bobName = "alice-on-the-wire", "bob-on-the-wire"
	alice, bob := newNode(t, dir, aliceName), newNode(t, dir, bobName)
	tap := startTap(t, bob.m.Addr().String())
	dir.set(bobName, bob.id.Public, tap.ln.Addr().String()) // alice reaches bob through the tap

	alice.send(bobName, "hello from alice")
	waitFor(t, "bob to get alice's message", func() bool { return len(bob.h.bodies(aliceName)) == 1 })
	bob.send(aliceName, "hello from bob") // on the same session, through the tap
	waitFor(t, "alice to get bob's message", func() bool { return len(alice.h.bodies(bobName)) == 1 })
	if s := alice.m.Sessions(); len(s) != 1 || s[0].RemoteAddr != tap.ln.Addr().String() {
		t.Fatalf("alice's sessions = %+v, want one through the tap", s)
	}

	up, down := tap.recorded()
	for dirName, data := range map[string][]byte{"alice→bob": up, "bob→alice": down} {
		if !bytes.HasPrefix(data, []byte(Magic)) || len(data) < 1000 {
			t.Fatalf("%s: recorded %d bytes starting %q; the tap missed the handshake", dirName, len(data), data[:min(len(data), 8)])
		}
		for who, key := range map[string]ed25519.PublicKey{"alice's": alice.id.Public, "bob's": bob.id.Public} {
			for form, b := range identityForms(key) {
				if i := bytes.Index(data, b); i >= 0 {
					t.Errorf("%s: %s %s in the clear at byte %d", dirName, who, form, i)
				}
			}
		}
		for _, name := range []string{aliceName, bobName} {
			if bytes.Contains(data, []byte(name)) {
				t.Errorf("%s: the name %q in the clear", dirName, name)
			}
		}
	}
}

// TestOldPreambleIsRefused: a chatd of the first preamble (magic P2PCHAT1
// and its key in the clear) gets our preamble, which names no one, and a
// closed connection, and the refusal is one Info line that says why.
func TestOldPreambleIsRefused(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	core, logs := observer.New(zapcore.DebugLevel)
	alice := newNode(t, dir, "alice", func(c *Config) { c.Log = zap.New(core) })
	old, _ := identity.Generate(nil)
	conn, err := net.Dial("tcp", alice.m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(append([]byte("P2PCHAT1"), old.Public...)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read until alice hangs up: %v", err)
	}
	if len(got) != preambleLen || !bytes.HasPrefix(got, []byte(Magic)) || bytes.Contains(got, alice.id.Public) {
		t.Fatalf("alice sent %q, want only her %d-byte %s preamble", got, preambleLen, Magic)
	}
	waitFor(t, "the refusal in alice's log", func() bool {
		return logs.FilterFieldKey("error").Len() > 0
	})
	e := logs.FilterFieldKey("error").All()[0]
	errText := e.ContextMap()["error"].(string)
	if e.Level != zapcore.InfoLevel || !strings.Contains(errText, "P2PCHAT1") {
		t.Errorf("refusal logged as %v %q (error %q), want Info naming P2PCHAT1", e.Level, e.Message, errText)
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len() + logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 0 {
		t.Errorf("%d warnings or errors logged for a stranger's old preamble", n)
	}
	assertStillWorks(t, newNode(t, dir, "bob"), alice, "after an old peer")
}

func TestReadPreamble(t *testing.T) {
	var n nonce
	copy(n[:], "0123456789abcdef0123456789abcdef")
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"ours", Magic + string(n[:]), nil},
		{"ours, then more", Magic + string(n[:]) + "\x16\x03\x01", nil},
		{"old preamble", "P2PCHAT1" + string(n[:]), ErrOldPreamble},
		{"old magic alone", "P2PCHAT1", ErrOldPreamble},
		{"http", "GET / HTTP/1.1\r\n\r\n", ErrNotPeer},
		{"short nonce", Magic + "abc", ErrNotPeer},
		{"short magic", "P2PCH", ErrNotPeer},
		{"empty", "", ErrNotPeer},
		{"future version", "P2PCHAT3" + string(n[:]), ErrNotPeer},
	}
	for _, c := range cases {
		got, err := readPreamble(strings.NewReader(c.in))
		if !errors.Is(err, c.want) || c.want == nil && got != n {
			t.Errorf("%s: readPreamble = %x, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestTLSRoleFromNonces(t *testing.T) {
	lo, hi := nonce{0: 1}, nonce{0: 2}
	if c, err := weAreTLSClient(hi, lo); !c || err != nil {
		t.Errorf("larger nonce: client=%v, %v; want the client", c, err)
	}
	if c, err := weAreTLSClient(lo, hi); c || err != nil {
		t.Errorf("smaller nonce: client=%v, %v; want the server", c, err)
	}
	if _, err := weAreTLSClient(lo, lo); !errors.Is(err, errTie) {
		t.Errorf("equal nonces: %v, want errTie", err)
	}
}

// TestEchoedPreambleIsRefused: a peer that sends our own nonce back (a
// reflector, or a socket connected to itself) gets no TLS role.
func TestEchoedPreambleIsRefused(t *testing.T) {
	checkLeaks(t)
	alice := newNode(t, newDirectory(), "alice")
	conn, err := net.Dial("tcp", alice.m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	theirs := make([]byte, preambleLen)
	if _, err := io.ReadFull(conn, theirs); err != nil {
		t.Fatal(err)
	}
	conn.Write(theirs)
	if rest, _ := io.ReadAll(conn); len(rest) != 0 {
		t.Fatalf("alice went on after an echoed preamble: %q", rest)
	}
}

// TestStalledPreambleTimesOut: half a preamble and then silence is closed
// by the handshake deadline, and others still get through meanwhile.
func TestStalledPreambleTimesOut(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	short := func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond }
	alice, bob := newNode(t, dir, "alice", short), newNode(t, dir, "bob", short)
	conn, err := net.Dial("tcp", alice.m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(Magic + "half a nonce"))
	assertStillWorks(t, bob, alice, "during a stalled preamble")
	start := time.Now()
	assertClosedByPeer(t, conn)
	t.Logf("closed %v after the test's last message", time.Since(start))
}

// FuzzReadPreamble: any input either fails or yields the nonce that
// follows the current magic; the old magic is always told apart.
func FuzzReadPreamble(f *testing.F) {
	n := newNonce()
	f.Add([]byte(Magic + string(n[:])))
	f.Add([]byte("P2PCHAT1" + string(make([]byte, 32))))
	f.Add([]byte(Magic))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := readPreamble(bytes.NewReader(in))
		switch {
		case err == nil:
			if !bytes.HasPrefix(in, []byte(Magic)) || len(in) < preambleLen || !bytes.Equal(got[:], in[len(Magic):preambleLen]) {
				t.Fatalf("readPreamble(%q) = %x, nil", in, got)
			}
		case bytes.HasPrefix(in, []byte(oldMagic)) != errors.Is(err, ErrOldPreamble):
			t.Fatalf("readPreamble(%q): %v", in, err)
		case !errors.Is(err, ErrOldPreamble) && !errors.Is(err, ErrNotPeer):
			t.Fatalf("readPreamble(%q): %v, want ErrNotPeer", in, err)
		}
	})
}
