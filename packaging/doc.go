// Package packaging holds how p2pchat is installed: systemd units under
// systemd/ (chatd as a user service with a socket-activated control socket,
// chat-tracker as a hardened system service) and install.sh, which puts the
// binaries and units in place for one user. Its tests check the units with
// systemd-analyze.
package packaging
