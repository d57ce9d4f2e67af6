package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// identityForms are the ways a key could show on the wire: raw, base64
// (standard and URL, padded or not), hex, and the fingerprint people
// compare, with and without its dashes.
func identityForms(key ed25519.PublicKey) map[string][]byte {
	fp := record.Fingerprint(key)
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

// TestWireShowsNoIdentity records, between the daemons and the relay,
// every byte of bob's reservation, alice's connect, bob's join and a
// relayed conversation in both directions (chatd's TLS inside), then
// looks for either key in every form in each direction of each
// connection: who calls whom travels only inside TLS. A reservation at a
// relay with the wrong key, through the same tap, shows nothing either.
func TestWireShowsNoIdentity(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	tp := newTap(t, r.addr.HostPort)
	wrong := r.addr
	wrong.Key = pub(carol)
	if _, err := relay.Reserve(ctxT(t), wrong, bob, tp.dial); err == nil {
		t.Fatal("reserved at a relay with the wrong key")
	}
	res := reserve(t, r, bob, tp.dial)
	caller, callee, _ := connectPair(t, r, res, bob, tp.dial)
	converse(t, caller, callee, "alice-on-the-wire", "bob-on-the-wire")
	caller.Close()
	callee.Close()
	res.Close()

	streams := tp.recorded()
	if len(streams) != 8 { // 4 connections, 2 directions each
		t.Fatalf("the tap recorded %d streams, want 8", len(streams))
	}
	tlsStarts, total := 0, 0
	for i, data := range streams {
		total += len(data)
		if len(data) > 0 && data[0] == tlsRecordHandshake {
			tlsStarts++
		}
		for who, key := range map[string]ed25519.PublicKey{"alice's": pub(alice), "bob's": pub(bob)} {
			for form, b := range identityForms(key) {
				if at := bytes.Index(data, b); at >= 0 {
					t.Errorf("stream %d: %s %s in the clear at byte %d", i, who, form, at)
				}
			}
		}
		for _, name := range []string{"alice-on-the-wire", "bob-on-the-wire"} {
			if bytes.Contains(data, []byte(name)) {
				t.Errorf("stream %d: the name %q in the clear", i, name)
			}
		}
	}
	if tlsStarts != 8 || total < 8000 {
		t.Fatalf("%d of 8 streams start with TLS, %d bytes in all: the tap missed something", tlsStarts, total)
	}
	t.Logf("%d bytes in 4 connections, none naming alice or bob", total)
}

// converse runs chatd's TLS in miniature over a relayed pair: each side
// pins the other's key and says its name, then alice sends a message and
// bob answers it.
func converse(t *testing.T, caller, callee net.Conn, aliceName, bobName string) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		s := tls.Server(callee, tlsConfig(t, bob, pub(alice)))
		defer s.Close()
		errc <- func() error {
			if _, err := fmt.Fprintf(s, "%-32s", bobName); err != nil {
				return err
			}
			got := make([]byte, 32+5)
			if _, err := io.ReadFull(s, got); err != nil {
				return fmt.Errorf("bob read: %w", err)
			}
			_, err := s.Write([]byte("hello alice"))
			return err
		}()
	})
	c := tls.Client(caller, tlsConfig(t, alice, pub(bob)))
	fmt.Fprintf(c, "%-32shello", aliceName)
	hello := make([]byte, 32+len("hello alice"))
	_, err := io.ReadFull(c, hello)
	c.Close()
	wg.Wait()
	if err != nil || !bytes.HasSuffix(hello, []byte("hello alice")) {
		t.Fatalf("alice read %q, %v", hello, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
