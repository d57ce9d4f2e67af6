// Command chatd is the p2pchat user daemon: it holds the user's identity key,
// keeps their record on the tracker fresh, and exchanges end-to-end
// authenticated messages with other users' daemons. chatctl talks to it over
// a Unix socket. Run it under systemd (`systemctl --user start chatd`) or by
// hand:
//
//	chatd --name alice --tracker http://127.0.0.1:7070 --listen 127.0.0.1:7171
//
// Flags override the config file ($XDG_CONFIG_HOME/chatd/chatd.toml).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/p2pchat/p2pchat/daemon"
	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/control"
)

var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "chatd: %s\n", strings.ToLower(err.Error()[:1])+err.Error()[1:])
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("chatd", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file (default "+config.DefaultPath()+")")
	name := fs.String("name", "", "user name to register on the tracker")
	tracker := fs.String("tracker", "", "tracker base URL")
	listen := fs.String("listen", "", "peer address HOST:PORT to listen and dial from")
	dataDir := fs.String("data-dir", "", "directory for the identity key and message store")
	ctlSock := fs.String("control-socket", "", "Unix socket for chatctl")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	logFormat := fs.String("log-format", "", "console or json")
	portMap := fs.Bool("portmap", true, "ask the home router to forward the listening port (UPnP, PCP, NAT-PMP); --portmap=false turns it off")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		os.Exit(2)
	}
	if *showVersion {
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
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer log.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Under socket activation systemd hands over the control socket;
	// otherwise the daemon binds it itself.
	ln, err := control.ListenerFromSystemd()
	if err != nil && !errors.Is(err, control.ErrNotSocketActivated) {
		return err
	}
	d, err := daemon.New(daemon.Options{Config: cfg, Log: log, ControlListener: ln, Version: version})
	if err != nil {
		return err
	}
	sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
	sddaemon.SdNotify(false, "STATUS=serving "+cfg.Name+" on "+d.PeerAddr().String())
	go watchdog(ctx, log)
	err = d.Run(ctx)
	sddaemon.SdNotify(false, sddaemon.SdNotifyStopping)
	if err != nil {
		return err
	}
	log.Info("chatd stopped")
	return nil
}

// watchdog pings systemd's watchdog at half its interval while ctx lives.
func watchdog(ctx context.Context, log *zap.Logger) {
	interval, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := sddaemon.SdNotify(false, sddaemon.SdNotifyWatchdog); err != nil {
				log.Warn("watchdog notify", zap.Error(err))
			}
		}
	}
}

func newLogger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	zc.Sampling = nil
	switch format {
	case "json":
	case "console", "":
		zc.Encoding = "console"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	default:
		return nil, fmt.Errorf("log format %q: want console or json", format)
	}
	return zc.Build()
}
