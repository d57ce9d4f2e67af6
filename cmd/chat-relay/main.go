// Command chat-relay is p2pchat's relay of last resort: a daemon that
// cannot be dialled holds a reservation here and publishes the relay's
// address in its record; callers reach it through the relay, which pairs
// the two connections and copies bytes it cannot read (the daemons' TLS
// runs end to end inside). See package relay for the protocol and
// configs/relay.toml for every setting.
//
//	chat-relay --config /etc/chat-relay/relay.toml
//	chat-relay --listen :7072 --public-addr relay.example.org:7072 --key ./relay.key
//
// On start it prints its relay address (relay://HOST:PORT/KEY) on stdout
// and logs it. It stops gracefully on SIGTERM or SIGINT and tells systemd
// when it is ready (Type=notify). Several relays can run side by side,
// each with its own key and address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/flagfile"
	"github.com/p2pchat/p2pchat/internal/logging"
	"github.com/p2pchat/p2pchat/internal/sdnotify"
	"github.com/p2pchat/p2pchat/relay/server"
)

var version = "dev"

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "chat-relay:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	f, err := loadConfig(args)
	if err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	log, err := logging.New(logging.Options{Level: f.LogLevel, Format: f.LogFormat})
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, f, log, stdout); err != nil {
		log.Error("relay failed", zap.Error(err))
		return err
	}
	return nil
}

// loadConfig reads --config and lets the other flags that were given
// override the file.
func loadConfig(args []string) (File, error) {
	fs := flag.NewFlagSet("chat-relay", flag.ContinueOnError)
	d := Default()
	path := fs.String("config", "", "TOML config `file` (see configs/relay.toml)")
	fs.String("listen", d.Listen, "`address` to listen on")
	fs.String("public-addr", "", "`host:port` others reach this relay at, for the printed relay address (default the listen address)")
	fs.String("key", "", "Ed25519 key `file`, made on first start (default $STATE_DIRECTORY/relay.key or ./relay.key)")
	fs.String("metrics-listen", d.MetricsListen, "`address` for /metrics and /healthz; empty turns them off")
	fs.String("log-format", d.LogFormat, "log `format`: json or console")
	fs.String("log-level", d.LogLevel, "log `level`: debug, info, warn, error")
	man := fs.Bool("man", false, "print the man page (roff) and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	doc := page(fs)
	fs.Usage = func() { doc.WriteHelp(os.Stdout) }
	if err := fs.Parse(args); err != nil {
		return File{}, err
	}
	switch {
	case *man:
		doc.WriteMan(os.Stdout, version)
		return File{}, flag.ErrHelp
	case *showVersion:
		fmt.Println("chat-relay", version)
		return File{}, flag.ErrHelp
	}
	if fs.NArg() > 0 {
		return File{}, fmt.Errorf("unexpected argument %q (all settings are flags)", fs.Arg(0))
	}
	f, err := Load(*path)
	if err != nil {
		return File{}, err
	}
	flagfile.Override(fs, map[string]*string{
		"listen": &f.Listen, "public-addr": &f.PublicAddr, "key": &f.Key,
		"metrics-listen": &f.MetricsListen, "log-format": &f.LogFormat, "log-level": &f.LogLevel,
	})
	return f, nil
}

func serve(ctx context.Context, f File, log *zap.Logger, stdout io.Writer) error {
	keyPath := f.Key
	if keyPath == "" {
		keyPath = DefaultKeyPath(os.Getenv)
	}
	key, created, err := loadOrCreateKey(keyPath)
	if err != nil {
		return err
	}
	if created {
		log.Info("relay key created", zap.String("path", keyPath))
	}
	cfg := f.Server()
	cfg.Key, cfg.Log = key, log.Named("relay")
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	public := f.PublicAddr
	if public == "" {
		public = ln.Addr().String()
		if ip := ln.Addr().(*net.TCPAddr).IP; ip.IsUnspecified() {
			log.Warn("listening on all addresses without --public-addr: the printed relay address is not one others can dial",
				zap.String("listen", public))
		}
	}
	addr := srv.Addr(public).String()

	var hs *http.Server
	var hsDone chan struct{}
	metricsAddr := ""
	if f.MetricsListen != "" {
		mln, err := net.Listen("tcp", f.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		metricsAddr = mln.Addr().String()
		hs = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
		hsDone = make(chan struct{})
		go func() {
			defer close(hsDone)
			if err := hs.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", zap.Error(err))
			}
		}()
	}

	fmt.Fprintln(stdout, addr)
	log.Info("relay serving", zap.String("relay_addr", addr), zap.String("addr", ln.Addr().String()),
		zap.String("metrics", metricsAddr))
	n := sdnotify.New(log)
	n.Ready("serving " + addr)
	err = srv.Serve(ctx, ln)
	n.Stopping()
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		hs.Shutdown(sctx) //nolint:errcheck // best effort on the way out
		cancel()
		<-hsDone
	}
	log.Info("relay stopped")
	return err
}
