package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// bareBody is what every request gets: 200 bytes of JSON, about a
// lookup answer's size, written the cheapest way net/http allows.
var bareBody = []byte(`{"record":{"name":"load0000001","addrs":["127.0.0.1:10001"],"seq":1,"expires":1800000000},"observed_addr":"127.0.0.1:40000","reannounce_after":1200,"pad":"` +
	strings.Repeat("x", 200-158) + `"}` + "\n")

var jsonType = []string{"application/json"}

func bare(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = jsonType
	w.Write(bareBody)
}

// serveBare serves bare on listen (loopback only) until SIGINT or SIGTERM,
// with the tracker's http.Server timeouts.
func serveBare(listen string) error {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("--listen %q: want a loopback IP address and port", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           http.HandlerFunc(bare),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
