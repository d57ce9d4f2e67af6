package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	reuseport "github.com/libp2p/go-reuseport"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/server"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// daemonPort plays chatd's peer listener: a SO_REUSEPORT listener on
// 127.0.0.1 that records every connection it accepts, what the connection
// sent, and how it ended.
type daemonPort struct {
	ln    net.Listener
	addr  netip.AddrPort
	conns chan acceptedConn
	wg    sync.WaitGroup
}

type acceptedConn struct {
	remote netip.AddrPort
	sent   []byte
	err    error // how reading ended: nil means a clean EOF
}

func listenDaemon(t *testing.T) *daemonPort {
	t.Helper()
	ln, err := reuseport.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemonPort{ln: ln, addr: ln.Addr().(*net.TCPAddr).AddrPort(), conns: make(chan acceptedConn, 16)}
	d.wg.Add(1)
	go d.accept()
	t.Cleanup(func() { ln.Close(); d.wg.Wait() })
	return d
}

func (d *daemonPort) accept() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		sent, err := io.ReadAll(c)
		c.Close()
		d.conns <- acceptedConn{remote: c.RemoteAddr().(*net.TCPAddr).AddrPort(), sent: sent, err: err}
	}
}

// got returns the connections accepted so far, waiting up to wait for
// the first one.
func (d *daemonPort) got(wait time.Duration) []acceptedConn {
	var out []acceptedConn
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case c := <-d.conns:
			out = append(out, c)
		case <-timer.C:
			return out
		}
		if len(d.conns) == 0 {
			return out
		}
	}
}

// client is a tracker client whose connections leave from the daemon's
// port, as chatd's do (SO_REUSEPORT), with extra headers on every request.
func (d *daemonPort) client(t *testing.T, tr *trackertest.Tracker, headers http.Header) *client.Client {
	dialer := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(d.addr), Control: reuseport.Control}
	return newClient(t, tr, dialer, headers)
}

// ephemeralClient dials from an ephemeral port, where nothing listens.
func ephemeralClient(t *testing.T, tr *trackertest.Tracker, headers http.Header) *client.Client {
	return newClient(t, tr, &net.Dialer{}, headers)
}

func newClient(t *testing.T, tr *trackertest.Tracker, dialer *net.Dialer, headers http.Header) *client.Client {
	transport := &http.Transport{Proxy: nil, DialContext: dialer.DialContext}
	t.Cleanup(transport.CloseIdleConnections)
	var rt http.RoundTripper = transport
	if headers != nil {
		rt = withHeaders{transport, headers}
	}
	return client.New(tr.URL, &http.Client{Transport: rt, Timeout: 10 * time.Second})
}

type withHeaders struct {
	rt http.RoundTripper
	h  http.Header
}

func (w withHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range w.h {
		r.Header[k] = vs
	}
	return w.rt.RoundTrip(r)
}

func signedRecord(t *testing.T, seed byte, seq uint64, addrs ...string) record.Signed {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	s, err := record.Sign(record.Record{Name: "alice", PublicKey: priv.Public().(ed25519.PublicKey), Addrs: addrs,
		Seq: seq, Expires: time.Now().Add(time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func metric(t *testing.T, tr *trackertest.Tracker, prefix string) string {
	t.Helper()
	resp, err := http.Get(tr.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestDialbackReachable(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	d := listenDaemon(t)
	c := d.client(t, tr, nil)
	ann, err := c.Register(context.Background(), signedRecord(t, 1, 1), client.WithDialback())
	if err != nil {
		t.Fatal(err)
	}
	if ann.Observed != d.addr || ann.Dialback != client.DialbackReachable {
		t.Fatalf("observed %v dialback %q, want %v reachable", ann.Observed, ann.Dialback, d.addr)
	}
	conns := d.got(time.Second)
	if len(conns) != 1 {
		t.Fatalf("the daemon's port accepted %d connections, want the tracker's one", len(conns))
	}
	if cn := conns[0]; len(cn.sent) != 0 || cn.err != nil || cn.remote == d.addr {
		t.Errorf("dial-back from %v sent %q and ended with %v; want a plain connect and close", cn.remote, cn.sent, cn.err)
	}
	// An update asks again and gets the same answer.
	ann, err = c.Update(context.Background(), signedRecord(t, 1, 2), client.WithDialback())
	if err != nil || ann.Dialback != client.DialbackReachable {
		t.Fatalf("update: dialback %q, err %v", ann.Dialback, err)
	}
	if m := metric(t, tr, "tracker_dialbacks_total"); !strings.Contains(m, `outcome="reachable"} 2`) {
		t.Errorf("metrics:\n%s", m)
	}
}

func TestDialbackUnreachable(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	// The client's port holds only the client's own connected socket, so
	// the tracker's SYN is answered with a RST: refused, not timed out.
	c := ephemeralClient(t, tr, nil)
	start := time.Now()
	ann, err := c.Register(context.Background(), signedRecord(t, 1, 1), client.WithDialback())
	if err != nil {
		t.Fatal(err)
	}
	if ann.Dialback != client.DialbackUnreachable {
		t.Fatalf("dialback %q, want unreachable", ann.Dialback)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a refused dial-back took %v", took)
	}
	// The record was written all the same.
	if _, _, err := c.Lookup(context.Background(), "alice"); err != nil {
		t.Fatalf("lookup after an unreachable registration: %v", err)
	}
}

// A daemon whose listener closed after it dialled the tracker: the port's
// only socket is the connected one, so the answer is unreachable.
func TestDialbackUnreachableAfterListenerCloses(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	d := listenDaemon(t)
	c := d.client(t, tr, nil)
	if _, err := c.Register(context.Background(), signedRecord(t, 1, 1)); err != nil {
		t.Fatal(err)
	}
	d.ln.Close() // the kept-alive connection to the tracker stays
	ann, err := c.Update(context.Background(), signedRecord(t, 1, 2), client.WithDialback())
	if err != nil {
		t.Fatal(err)
	}
	if ann.Observed != d.addr || ann.Dialback != client.DialbackUnreachable {
		t.Fatalf("observed %v dialback %q, want %v unreachable", ann.Observed, ann.Dialback, d.addr)
	}
}

func TestDialbackNotAskedNotDialled(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	d := listenDaemon(t)
	c := d.client(t, tr, nil)
	ann, err := c.Register(context.Background(), signedRecord(t, 1, 1))
	if err != nil || ann.Dialback != client.DialbackNone {
		t.Fatalf("dialback %q err %v, want none", ann.Dialback, err)
	}
	// A request that fails (a stale seq, a bad signature) dials nothing.
	if _, err := c.Update(context.Background(), signedRecord(t, 1, 1), client.WithDialback()); !errors.Is(err, client.ErrStaleSeq) {
		t.Fatalf("stale update: %v", err)
	}
	bad := signedRecord(t, 1, 5)
	bad.Signature[0] ^= 1
	if _, err := c.Update(context.Background(), bad, client.WithDialback()); !errors.Is(err, client.ErrBadSignature) {
		t.Fatalf("forged update: %v", err)
	}
	if _, err := c.Update(context.Background(), signedRecord(t, 2, 6), client.WithDialback()); !errors.Is(err, client.ErrKeyMismatch) {
		t.Fatalf("someone else's update: %v", err)
	}
	if n := len(d.got(200 * time.Millisecond)); n != 0 {
		t.Fatalf("the tracker dialled %d times for requests that asked for no dial-back or failed", n)
	}
}

func TestDialbackSkippedWhenDisabled(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t, trackertest.WithConfig(func(c *server.Config) { c.DisableDialback = true }))
	d := listenDaemon(t)
	ann, err := d.client(t, tr, nil).Register(context.Background(), signedRecord(t, 1, 1), client.WithDialback())
	if err != nil || ann.Dialback != client.DialbackSkipped {
		t.Fatalf("dialback %q err %v, want skipped", ann.Dialback, err)
	}
	if n := len(d.got(200 * time.Millisecond)); n != 0 {
		t.Fatalf("a disabled tracker dialled %d times", n)
	}
	if m := metric(t, tr, "tracker_dialbacks_total"); !strings.Contains(m, `outcome="disabled"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}
}

func TestDialbackRateLimitedPerSource(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t, trackertest.WithConfig(func(c *server.Config) {
		c.DialbackRate, c.DialbackBurst = 0.001, 2
	}))
	d := listenDaemon(t)
	c := d.client(t, tr, nil)
	want := []client.Dialback{client.DialbackReachable, client.DialbackReachable, client.DialbackSkipped, client.DialbackSkipped}
	for i, w := range want {
		var ann client.Announce
		var err error
		if i == 0 {
			ann, err = c.Register(context.Background(), signedRecord(t, 1, 1), client.WithDialback())
		} else {
			ann, err = c.Update(context.Background(), signedRecord(t, 1, uint64(i+1)), client.WithDialback())
		}
		if err != nil || ann.Dialback != w {
			t.Fatalf("announce %d: dialback %q err %v, want %q (the request itself is never refused)", i, ann.Dialback, err, w)
		}
	}
	if n := len(d.got(200 * time.Millisecond)); n != 2 {
		t.Errorf("the tracker dialled %d times, want the 2 of the burst", n)
	}
	if m := metric(t, tr, "tracker_dialbacks_total"); !strings.Contains(m, `outcome="rate_limited"} 2`) {
		t.Errorf("metrics:\n%s", m)
	}
}

// Nothing a client says picks the address dialled: not a header, not the
// record's addresses, not a query parameter. Only the connection's source.
func TestDialbackNeverDialsANamedAddress(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t, trackertest.WithConfig(func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // not loopback
	}))
	victim := listenDaemon(t)
	v := victim.addr.String()
	headers := http.Header{
		"X-Forwarded-For": {v}, "X-Real-Ip": {v}, "Forwarded": {"for=\"" + v + "\""},
		"X-Client-Ip": {v}, "Client-Ip": {v}, "True-Client-Ip": {v}, "X-Forwarded-Host": {v}, "Host-Port": {v},
	}
	naming := client.AnnounceOption(func(q url.Values) { q.Set("addr", v); q.Set("dialback_addr", v) })
	// From a port where nothing listens, and from a listening one.
	ann, err := ephemeralClient(t, tr, headers).Register(context.Background(), signedRecord(t, 1, 1, v), client.WithDialback(), naming)
	if err != nil || ann.Dialback != client.DialbackUnreachable {
		t.Fatalf("from an ephemeral port: dialback %q err %v, want unreachable", ann.Dialback, err)
	}
	d := listenDaemon(t)
	ann, err = d.client(t, tr, headers).Update(context.Background(), signedRecord(t, 1, 2, v), client.WithDialback(), naming)
	if err != nil || ann.Observed != d.addr || ann.Dialback != client.DialbackReachable {
		t.Fatalf("from the daemon's port: observed %v dialback %q err %v, want %v reachable", ann.Observed, ann.Dialback, err, d.addr)
	}
	if n := len(victim.got(300 * time.Millisecond)); n != 0 {
		t.Fatalf("the tracker dialled the address a client named %d times", n)
	}
}

// Behind a trusted proxy the dial-back follows X-Forwarded-For exactly as
// observed_addr does: the proxy's word is the source address.
func TestDialbackBehindTrustedProxy(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t, trackertest.WithConfig(func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}))
	d := listenDaemon(t)
	// The test's own connection plays the proxy that appends the address
	// it saw the daemon come from.
	c := ephemeralClient(t, tr, http.Header{"X-Forwarded-For": {d.addr.String()}})
	ann, err := c.Register(context.Background(), signedRecord(t, 1, 1), client.WithDialback())
	if err != nil {
		t.Fatal(err)
	}
	if ann.Observed != d.addr || ann.Dialback != client.DialbackReachable {
		t.Fatalf("observed %v dialback %q, want %v reachable", ann.Observed, ann.Dialback, d.addr)
	}
	// A proxy that passes a bare IP gives no port to dial.
	c = ephemeralClient(t, tr, http.Header{"X-Forwarded-For": {"127.0.0.1"}})
	ann, err = c.Update(context.Background(), signedRecord(t, 1, 2), client.WithDialback())
	if err != nil || ann.Dialback != client.DialbackSkipped {
		t.Fatalf("bare-IP proxy: dialback %q err %v, want skipped", ann.Dialback, err)
	}
}
