// Command tracker-load measures a running chat-tracker: it preloads
// synthetic users, then reports lookups/s and signed updates/s with latency
// percentiles. It talks only to loopback.
//
//	tracker-load --url http://127.0.0.1:8080 --users 100000 --workers 64
//	tracker-load --url http://127.0.0.1:8080 --users 1000000 --preload-direct /var/lib/chat-tracker/tracker.db
//	tracker-load --url http://127.0.0.1:8080 --users 1000000 --preload=false   # reuse the users of an earlier run
//	tracker-load --users 100000 --preload=false --lookups 0 --updates 300000 --write-updates /tmp/u.txt
//	    # sign updates for scripts/wrk-update.lua instead of sending them
//
// The tracker must not rate-limit the test: set rate_limit and rate_burst
// very high in its tracker.toml.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/cmd/tracker-load/internal/load"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

type options struct {
	cfg     load.Config
	preload bool
	lookups bool // run the lookup phase
	updates bool // run the update phase
	// updateFile, if set, receives the signed updates (load.WriteUpdates)
	// instead of the tracker.
	updateFile string
	json       bool
	verbose    bool
}

func parseFlags(args []string) (options, error) {
	d := load.DefaultConfig()
	var o options
	fs := flag.NewFlagSet("tracker-load", flag.ContinueOnError)
	fs.StringVar(&o.cfg.URL, "url", "http://127.0.0.1:8080", "tracker base URL (loopback IP only)")
	fs.IntVar(&o.cfg.Users, "users", d.Users, "number of synthetic users")
	fs.StringVar(&o.cfg.Prefix, "prefix", d.Prefix, "user name prefix (names are prefix + 7 digits)")
	fs.StringVar(&o.cfg.Seed, "seed", d.Seed, "seed the users' keys derive from (reuse it to reuse preloaded users)")
	fs.IntVar(&o.cfg.Workers, "workers", d.Workers, "concurrent requests")
	fs.DurationVar(&o.cfg.TTL, "ttl", d.TTL, "record lifetime (at most the tracker's max_ttl)")
	fs.BoolVar(&o.preload, "preload", true, "register the users first (already registered ones count as name_taken)")
	fs.StringVar(&o.cfg.PreloadDSN, "preload-direct", "", "preload straight into the tracker's store at this DSN (file path or postgres:// URL) instead of over HTTP")
	fs.DurationVar(&o.cfg.PreloadDuration, "preload-duration", d.PreloadDuration, "stop preloading after this long")
	fs.IntVar(&o.cfg.Lookups, "lookups", d.Lookups, "lookups to send at most (0: skip)")
	fs.IntVar(&o.cfg.Updates, "updates", d.Updates, "signed updates to send at most (0: skip)")
	fs.DurationVar(&o.cfg.Duration, "duration", d.Duration, "each of the lookup and update phases runs at most this long")
	fs.BoolVar(&o.cfg.Verify, "verify", false, "verify each looked-up record's signature (costs client CPU)")
	fs.StringVar(&o.updateFile, "write-updates", "", "write the signed updates to this file, for scripts/wrk-update.lua, instead of sending them")
	fs.BoolVar(&o.json, "json", false, "print results as JSON")
	fs.BoolVar(&o.verbose, "v", false, "log store activity (direct preload)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.cfg.Timed = func(phase string) {
		fmt.Fprintf(os.Stderr, "tracker-load: %s: requests ready, timed phase starts\n", phase)
	}
	// Zero means "skip" here, but "default" to load.Config.
	o.lookups, o.updates = o.cfg.Lookups != 0, o.cfg.Updates != 0
	return o, nil
}

func run(args []string) int {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tracker-load: %v\n", err)
		return 2
	}
	if err := o.cfg.WithDefaults().Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "tracker-load: %v\n", err)
		return 2
	}
	log := zap.NewNop()
	if o.verbose {
		log, _ = zap.NewDevelopment()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	results, err := phases(ctx, o, log)
	if o.json {
		printJSON(results)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tracker-load: %v\n", err)
		return 1
	}
	return 0
}

func phases(ctx context.Context, o options, log *zap.Logger) ([]load.Result, error) {
	type phase func(context.Context, load.Config) (load.Result, error)
	var list []phase
	if o.preload {
		list = append(list, func(ctx context.Context, c load.Config) (load.Result, error) { return load.Preload(ctx, c, log) })
	}
	if o.lookups {
		list = append(list, load.Lookups)
	}
	switch {
	case o.updates && o.updateFile != "":
		list = append(list, func(ctx context.Context, c load.Config) (load.Result, error) {
			return writeUpdates(ctx, c, o.updateFile)
		})
	case o.updates:
		list = append(list, load.Updates)
	}
	var results []load.Result
	for _, p := range list {
		res, err := p(ctx, o.cfg)
		if res.Phase != "" {
			results = append(results, res)
			if !o.json {
				fmt.Println(res)
			}
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func writeUpdates(ctx context.Context, cfg load.Config, path string) (load.Result, error) {
	f, err := os.Create(path)
	if err != nil {
		return load.Result{}, err
	}
	res, err := load.WriteUpdates(ctx, cfg, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return res, err
}

func printJSON(results []load.Result) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(results)
}
