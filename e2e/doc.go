// Package e2e holds p2pchat's system tests: they build the real
// chat-tracker, chatd and chatctl binaries once, run them as separate
// processes on loopback, and check what a user would check — that
// messages arrive once and in order across restarts and crashes, that
// chatctl's output, errors and exit codes are right, that attach and the
// shell behave on a real terminal (tmux), that another user is refused,
// and that socket activation, a late tracker and a PostgreSQL-backed pair
// of trackers work.
//
// Run them with
//
//	go test ./e2e/
//
// Tests that need something the machine lacks (tmux, root,
// systemd-socket-activate, P2PCHAT_TEST_POSTGRES) skip with the reason,
// and fail instead when CI=true. Every process a test starts is stopped
// with SIGTERM and must exit 0: a clean shutdown is part of what is
// tested.
package e2e
