package natlab

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNamespace runs fn on a new goroutine locked to an OS thread that has
// entered namespace ns, and waits for it. Sockets fn creates synchronously
// belong to ns. If the thread cannot go back to its own namespace it stays
// locked, so it ends with the goroutine instead of serving other goroutines
// from the wrong namespace.
func inNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- enterAndRun(ns, fn) }()
	return <-errc
}

func enterAndRun(ns string, fn func() error) error {
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer own.Close()
	target, err := os.Open(filepath.Join(netnsDir, ns))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leave namespace %s: %w", ns, err) // the thread stays locked and dies
	}
	runtime.UnlockOSThread()
	return fnErr
}

// writeSysctl sets a sysctl under /proc/sys/net for namespace ns, such as
// "net/ipv4/ip_forward".
func writeSysctl(ns, key, value string) error {
	return inNamespace(ns, func() error {
		if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s in %s: %w", key, ns, err)
		}
		return nil
	})
}
