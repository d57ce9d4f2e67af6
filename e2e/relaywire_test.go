package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/p2pchat/p2pchat/internal/natlab"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// TestRelayWireShowsNoIdentity: two users behind symmetric NATs (only the
// relay joins them) whose relay address names a recording proxy on a
// public lab host, with the real relay's key; the proxy forwards to the
// real chat-relay and keeps every byte, each direction of each connection
// apart: both reservations, alice's connect, bob's join and the relayed
// conversation of the real binaries. Neither user's key appears in any
// form, nor either name, nor the message.
func TestRelayWireShowsNoIdentity(t *testing.T) {
	e := newEnv(t)
	lab := natlab.New(t)
	url := e.labTracker(lab.AddPublicHost("tracker"))
	_, raddr := e.labRelayProc(lab.AddPublicHost("relay"), t.TempDir())
	real, err := relay.ParseAddr(raddr)
	if err != nil {
		t.Fatal(err)
	}
	tp := startWireTap(t, lab.AddPublicHost("tap"), real.HostPort)
	taddr := relay.Addr{HostPort: tp.addr, Key: real.Key}.String()

	const aliceName, bobName, body = "alice-on-the-wire", "bob-on-the-wire", "a message nobody on the path may read"
	alice := e.labChatd(lab.AddRouter("home-a", natlab.RouterOptions{NAT: natlab.Symmetric}).AddHost("alice"),
		aliceName, url, relayConfig(taddr))
	bob := e.labChatd(lab.AddRouter("home-b", natlab.RouterOptions{NAT: natlab.Symmetric}).AddHost("bob"),
		bobName, url, relayConfig(taddr))
	for _, d := range []*chatd{alice, bob} {
		d.start()
		d.waitRegistered()
		waitReserved(t, d, taddr)
	}
	befriend(alice, bob)
	alice.must("send", "--wait", bobName, body)
	bob.must("send", "--wait", aliceName, "re: "+body)
	if p := pathTo(alice, bobName); p != "relayed" {
		t.Fatalf("alice reaches bob by %q, want relayed", p)
	}
	var keys []string
	for _, d := range []*chatd{alice, bob} {
		st, ok := d.status()
		if !ok || st.PublicKey == "" {
			t.Fatalf("%s's status has no key", d.name)
		}
		keys = append(keys, st.PublicKey)
		d.stop()
	}

	streams := tp.recorded()
	total := 0
	for i, data := range streams {
		total += len(data)
		if len(data) > 0 && data[0] != 22 { // a TLS handshake record
			t.Errorf("stream %d starts with %x, not TLS", i, data[:min(len(data), 8)])
		}
		for _, k := range keys {
			key, err := base64.StdEncoding.DecodeString(k)
			if err != nil {
				t.Fatalf("key %q: %v", k, err)
			}
			for form, b := range keyForms(key) {
				if at := bytes.Index(data, b); at >= 0 {
					t.Errorf("stream %d: key %s as %s in the clear at byte %d", i, record.Fingerprint(key), form, at)
				}
			}
		}
		for _, s := range []string{aliceName, bobName, body} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("stream %d: %q in the clear", i, s)
			}
		}
	}
	// Two reservations, a connect and a join, both ways; more if a
	// daemon reconnected.
	if len(streams) < 8 || total < 10000 {
		t.Fatalf("the tap recorded %d streams, %d bytes: it missed something", len(streams), total)
	}
	t.Logf("%d streams, %d bytes between the daemons and the relay, naming no one", len(streams), total)
}

// keyForms are the ways a key could show on the wire.
func keyForms(key []byte) map[string][]byte {
	fp := record.Fingerprint(key)
	return map[string][]byte{
		"raw":                    key,
		"base64":                 []byte(base64.StdEncoding.EncodeToString(key)),
		"base64 unpadded":        []byte(base64.RawStdEncoding.EncodeToString(key)),
		"base64url":              []byte(base64.URLEncoding.EncodeToString(key)),
		"base64url unpadded":     []byte(base64.RawURLEncoding.EncodeToString(key)),
		"hex":                    []byte(hex.EncodeToString(key)),
		"fingerprint":            []byte(fp),
		"fingerprint, no dashes": []byte(strings.ReplaceAll(fp, "-", "")),
	}
}

// wireTap is a TCP proxy on a lab host that records what it forwards.
type wireTap struct {
	addr    string // host:port the daemons dial
	mu      sync.Mutex
	streams []*bytes.Buffer // guarded by mu, as are their contents
}

// startWireTap listens on h's address, port 7072, and forwards each
// connection to to, dialled from h; the test's cleanup stops it and waits
// for its goroutines.
func startWireTap(t *testing.T, h *natlab.Host, to string) *wireTap {
	t.Helper()
	addr := netip.AddrPortFrom(h.Addr(), 7072).String()
	ln, err := h.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tp := &wireTap{addr: addr}
	var wg sync.WaitGroup
	var connMu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := h.Dial(context.Background(), "tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			connMu.Lock()
			conns = append(conns, c, up)
			connMu.Unlock()
			wg.Go(func() { tp.copy(up, c) })
			wg.Go(func() { tp.copy(c, up) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		connMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connMu.Unlock()
		wg.Wait()
	})
	return tp
}

func (tp *wireTap) copy(dst, src net.Conn) {
	rec := new(bytes.Buffer)
	tp.mu.Lock()
	tp.streams = append(tp.streams, rec)
	tp.mu.Unlock()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		tp.mu.Lock()
		rec.Write(buf[:n])
		tp.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.(*net.TCPConn).CloseWrite()
}

// recorded returns a copy of each direction of each connection so far.
func (tp *wireTap) recorded() [][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make([][]byte, len(tp.streams))
	for i, b := range tp.streams {
		out[i] = bytes.Clone(b.Bytes())
	}
	return out
}
