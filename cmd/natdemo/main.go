// Command natdemo is `make demo-nat`: alice and bob behind two home routers
// in network namespaces (internal/natlab), a tracker and a chat-relay on the
// lab's internet, port mapping off, all run from the real binaries. It shows
// the first message going through the relay, the path moving to punched
// (cone NATs) or staying relayed (symmetric NATs), and both status outputs,
// then stays in the foreground until Ctrl-C or SIGTERM. Whenever it stops,
// on a signal, an error or with --once, it stops the processes it started
// (by PID), deletes the lab's namespaces and removes its directory.
//
//	sudo bin/natdemo                      # cone NATs: relayed, then punched
//	sudo bin/natdemo --nat symmetric      # the relayed path stays
//	sudo bin/natdemo --once               # exit after showing the path (CI)
//
// It needs root, iproute2, iptables (legacy) and conntrack. It is a
// developer tool; the Debian packages do not ship it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/p2pchat/p2pchat/cmd/natdemo/internal/demo"
	"github.com/p2pchat/p2pchat/internal/natlab"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var c demo.Config
	var nat string
	fs := flag.NewFlagSet("natdemo", flag.ContinueOnError)
	fs.StringVar(&c.ShowBin, "bin", "bin", "directory with chat-tracker, chat-relay, chatd and chatctl (make build)")
	fs.StringVar(&c.ShowDir, "dir", ".demo-nat", "state directory: sockets, logs, data; removed at the end")
	fs.StringVar(&nat, "nat", "cone", "the home routers' NAT: cone or symmetric")
	fs.BoolVar(&c.Once, "once", false, "exit after showing the path instead of waiting for Ctrl-C")
	fs.DurationVar(&c.Hold, "hold", 5*time.Second, "how long to watch the relayed path stay (symmetric)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "natdemo: unexpected argument %q; hint: natdemo --help\n", fs.Arg(0))
		return 2
	}
	switch nat {
	case "cone":
		c.NAT = natlab.Cone
	case "symmetric":
		c.NAT = natlab.Symmetric
	default:
		fmt.Fprintf(os.Stderr, "natdemo: unknown NAT %q; hint: --nat cone or --nat symmetric (DEMO_NAT=symmetric make demo-nat)\n", nat)
		return 2
	}
	var err error
	if c.Bin, err = filepath.Abs(c.ShowBin); err == nil {
		c.Dir, err = filepath.Abs(c.ShowDir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "natdemo: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = demo.Run(ctx, c, os.Stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "natdemo: interrupted; stopped everything it had started")
		return 130
	}
	fmt.Fprintf(os.Stderr, "natdemo: %v\n", err)
	return 1
}
