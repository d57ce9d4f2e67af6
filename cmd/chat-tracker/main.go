// Command chat-tracker is p2pchat's rendezvous server: users register a
// name with a signed record, others look it up. See package
// tracker/server for the API and configs/tracker.toml for every setting.
//
//	chat-tracker --config /etc/chat-tracker/tracker.toml
//	chat-tracker --listen 127.0.0.1:7070 --db ./tracker.db --log-format console
//
// It stops gracefully on SIGTERM or SIGINT and tells systemd when it is
// ready (Type=notify).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/flagfile"
	"github.com/p2pchat/p2pchat/internal/logging"
	"github.com/p2pchat/p2pchat/internal/sdnotify"
	"github.com/p2pchat/p2pchat/tracker/config"
	"github.com/p2pchat/p2pchat/tracker/server"
	"github.com/p2pchat/p2pchat/tracker/store/storeopen"
)

var version = "dev"

// pprofAddr is --pprof: a flag only, never a config key, so a profiling
// port is never left open by a forgotten line in a file.
var pprofAddr string

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "chat-tracker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	f, err := loadConfig(args)
	if err != nil {
		return err
	}
	cfg, err := f.Server()
	if err != nil {
		return err
	}
	if f.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	log, err := logging.New(logging.Options{Level: f.LogLevel, Format: f.LogFormat})
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, f, cfg, log); err != nil {
		log.Error("tracker failed", zap.Error(err))
		return err
	}
	return nil
}

// loadConfig reads --config and lets the other flags that were given
// override the file.
func loadConfig(args []string) (config.File, error) {
	fs := flag.NewFlagSet("chat-tracker", flag.ContinueOnError)
	d := config.Default()
	path := fs.String("config", "", "TOML config `file` (see configs/tracker.toml)")
	fs.String("listen", d.Listen, "`address` to listen on")
	fs.String("db", "", "SQLite `path` or postgres:// URL (default $STATE_DIRECTORY/tracker.db or ./tracker.db)")
	fs.String("tls-cert", "", "PEM certificate `file` for HTTPS")
	fs.String("tls-key", "", "PEM private key `file` for HTTPS")
	fs.String("log-format", d.LogFormat, "log `format`: json or console")
	fs.String("log-level", d.LogLevel, "log `level`: debug, info, warn, error")
	man := fs.Bool("man", false, "print the man page (roff) and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&pprofAddr, "pprof", "", "serve Go's runtime profiles (net/http/pprof) on this loopback `address`, for profiling; off by default")
	doc := page(fs)
	fs.Usage = func() { doc.WriteHelp(os.Stdout) }
	if err := fs.Parse(args); err != nil {
		return config.File{}, err
	}
	switch {
	case *man:
		doc.WriteMan(os.Stdout, version)
		return config.File{}, flag.ErrHelp
	case *showVersion:
		fmt.Println("chat-tracker", version)
		return config.File{}, flag.ErrHelp
	}
	if fs.NArg() > 0 {
		return config.File{}, fmt.Errorf("unexpected argument %q (all settings are flags)", fs.Arg(0))
	}
	f, err := config.Load(*path)
	if err != nil {
		return config.File{}, err
	}
	flagfile.Override(fs, map[string]*string{
		"listen": &f.Listen, "db": &f.DB, "tls-cert": &f.TLSCert, "tls-key": &f.TLSKey,
		"log-format": &f.LogFormat, "log-level": &f.LogLevel,
	})
	return f, nil
}

func serve(ctx context.Context, f config.File, cfg server.Config, log *zap.Logger) (err error) {
	st, err := storeopen.Open(ctx, f.DBPath(), log.Named("store"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	srv, err := server.New(cfg, st, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if pprofAddr != "" {
		stopProfiles, err := serveProfiles(pprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopProfiles()
	}
	n := sdnotify.New(log)
	n.Ready("serving on " + ln.Addr().String())
	err = srv.Serve(ctx, ln)
	n.Stopping()
	return err
}
