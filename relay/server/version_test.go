package server

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// TestOldClientIsToldToUpgrade: a client of protocol version 1 (frames in
// the clear) gets one version-1 error frame it can read, saying what to
// do, and the relay logs it at info level once a minute at most.
func TestOldClientIsToldToUpgrade(t *testing.T) {
	leakcheck.Check(t)
	core, logs := observer.New(zapcore.DebugLevel)
	r := startRelay(t, func(c *Config) { c.Log = zap.New(core) })
	for i := range 2 {
		c := dialRaw(t, r)
		c.Write([]byte{wire.V1, 1, 0, 0}) // version 1's reserve
		got := readAll(t, c)
		if got != string(wire.V1Refusal()) {
			t.Fatalf("old client %d got %q", i, got)
		}
		// What the old client makes of it: a refusal with a hint.
		f, err := wire.ReadV1(strings.NewReader(got))
		var re *wire.RefusedError
		if err != nil || !wire.IsV1Error(f) || !errors.As(wire.ParseError(f.Payload), &re) ||
			re.Code != wire.CodeVersion || !strings.Contains(re.Error(), "upgrade chatd") {
			t.Fatalf("the old client reads %v %v", re, err)
		}
	}
	if r.refusals(RefusedOldVersion) != 2 {
		t.Fatalf("refusals{old_version} = %v, want 2", r.refusals(RefusedOldVersion))
	}
	lines := logs.FilterMessage("refused a relay protocol 1 client")
	if lines.Len() != 2 || lines.FilterLevelExact(zapcore.InfoLevel).Len() != 1 {
		t.Fatalf("log lines: %+v, want one at info and one at debug", lines.All())
	}
	reserve(t, r, bob, nil) // the relay carries on
}

// TestOldRelayIsNamed: a relay of protocol version 1 reads the client's
// TLS ClientHello as a frame of an unknown version and answers with its
// error frame; the client says that the relay is too old, not that TLS
// failed.
func TestOldRelayIsNamed(t *testing.T) {
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// What a version-1 relay does with a header it cannot read.
			io.ReadFull(c, make([]byte, wire.HeaderSize))
			c.Write([]byte("\x01\x0b\x00\x0bbad_request"))
			c.Close()
		}
	}()
	a := relay.Addr{HostPort: ln.Addr().String(), Key: pub(relayKey)}
	_, rerr := relay.Reserve(ctxT(t), a, bob, nil)
	_, cerr := relay.Connect(ctxT(t), a, pub(bob), nil)
	for what, err := range map[string]error{"reserve": rerr, "connect": cerr} {
		if !errors.Is(err, relay.ErrOldRelay) || !errors.Is(err, relay.ErrProtocol) ||
			!strings.Contains(err.Error(), "version 1") || !strings.Contains(err.Error(), "bad_request") {
			t.Errorf("%s at a version-1 relay: %v, want ErrOldRelay", what, err)
		}
	}
}
