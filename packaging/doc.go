// Package packaging holds how p2pchat is installed: systemd units under
// systemd/ (chatd as a user service with a socket-activated control socket,
// chat-tracker as a hardened system service), the Debian packages under
// deb/ (`make deb`: p2pchat for users, chat-tracker for operators), and
// install.sh, which puts the binaries and units in place for one user
// without a package.
//
// Its tests check the units with systemd-analyze (verify, and security
// exposure "OK" or better), and, as root, build the packages at two
// versions, run lintian on them, install them with dpkg, and live a user's
// session under a real standalone `systemd --user` (see usermanager_test.go
// for the two workarounds that make one run where PID 1 is not systemd):
// enable on a fresh home, chatctl init, messages both ways, start through
// the socket, restart after SIGKILL, the watchdog firing on a stalled main
// loop, an upgrade that restarts chatd and keeps its data, then remove and
// purge.
package packaging
