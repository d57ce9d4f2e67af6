// Command chatd is the p2pchat user daemon: it holds the user's identity key,
// keeps their record on the tracker fresh, and exchanges end-to-end
// authenticated messages with other users' daemons. chatctl talks to it over
// a Unix socket. Run it under systemd (`systemctl --user start chatd`) or by
// hand:
//
//	chatd --name alice --tracker http://127.0.0.1:7070 --listen 127.0.0.1:7171
//
// Flags override the config file ($XDG_CONFIG_HOME/chatd/chatd.toml).
// Without a name chatd waits for `chatctl init NAME`. `chatd --help` and
// chatd(1) (`chatd --man`) come from doc.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/p2pchat/p2pchat/daemon"
	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/setup"
	"github.com/p2pchat/p2pchat/internal/logging"
	"github.com/p2pchat/p2pchat/internal/sdnotify"
)

var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "chatd: %v\n", err) // errors are lower case at their source
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("chatd", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config `file` (default $XDG_CONFIG_HOME/chatd/chatd.toml)")
	name := fs.String("name", "", "user `name` to register on the tracker (default: from account.toml, written by chatctl init)")
	tracker := fs.String("tracker", "", "tracker base `URL`")
	listen := fs.String("listen", "", "peer `address` HOST:PORT to listen and dial from")
	dataDir := fs.String("data-dir", "", "`directory` for the identity key and message store")
	ctlSock := fs.String("control-socket", "", "Unix `socket` for chatctl")
	logLevel := fs.String("log-level", "", "log `level`: debug, info, warn or error")
	logFormat := fs.String("log-format", "", "log `format`: console or json")
	portMap := fs.Bool("portmap", true, "ask the home router to forward the listening port (UPnP, PCP, NAT-PMP); --portmap=false turns it off")
	showVersion := fs.Bool("version", false, "print the version and exit")
	man := fs.Bool("man", false, "print the man page (roff) and exit")
	doc := page(fs)
	fs.Usage = func() { doc.WriteHelp(os.Stdout) }
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		os.Exit(2)
	}
	switch {
	case *man:
		doc.WriteMan(os.Stdout, version)
		return nil
	case *showVersion:
		fmt.Println("chatd", version)
		return nil
	}
	path, explicit := *cfgPath, *cfgPath != ""
	if !explicit {
		path = config.DefaultPath()
	}
	cfg, err := config.Load(path, explicit)
	if err != nil {
		return err
	}
	for _, o := range []struct {
		flag string
		dst  *string
	}{
		{*name, &cfg.Name}, {*tracker, &cfg.Tracker}, {*listen, &cfg.Listen},
		{*dataDir, &cfg.DataDir}, {*ctlSock, &cfg.ControlSocket},
		{*logLevel, &cfg.LogLevel}, {*logFormat, &cfg.LogFormat},
	} {
		if o.flag != "" {
			*o.dst = o.flag
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "portmap" {
			cfg.PortMap.Enabled = *portMap
		}
	})
	log, err := logging.New(logging.Options{Level: cfg.LogLevel, Format: cfg.LogFormat})
	if err != nil {
		return err
	}
	defer log.Sync()
	if err := applyAccount(&cfg, *tracker != ""); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Under socket activation systemd hands over the control socket;
	// otherwise chatd binds it itself.
	ln, err := control.ListenerFromSystemd()
	switch {
	case errors.Is(err, control.ErrNotSocketActivated):
		if ln, err = control.Listen(cfg.ControlSocket); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	notify := sdnotify.New(log)
	every := notify.WatchdogInterval() / 3
	if cfg.Name == "" {
		acct, err := setup.Wait(ctx, setup.Config{Listener: ln, DataDir: cfg.DataDir, Tracker: cfg.Tracker,
			Log: log.Named("setup"), Version: version, Notifier: notify, HealthInterval: every})
		if err != nil {
			ln.Close()
			if ctx.Err() != nil {
				notify.Stopping()
				return nil
			}
			return err
		}
		cfg.Name, cfg.Tracker = acct.Name, acct.Tracker
	}
	d, err := daemon.New(daemon.Options{Config: cfg, Log: log, ControlListener: ln, Version: version,
		Notifier: notify, HealthInterval: every, StallFile: os.Getenv("CHATD_TEST_STALL_FILE")})
	if err != nil {
		ln.Close()
		return err
	}
	if err := d.Run(ctx); err != nil {
		return err
	}
	log.Info("chatd stopped")
	return nil
}

// applyAccount takes the name from account.toml (written by chatctl init)
// when the config file and flags gave none.
func applyAccount(cfg *config.Config, trackerFlag bool) error {
	acct, err := config.ReadAccount(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.ApplyAccount(acct, trackerFlag)
	return nil
}
