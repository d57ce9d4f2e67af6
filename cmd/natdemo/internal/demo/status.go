package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// status is the part of `chatctl status --json` the demo shows.
type status struct {
	TrackerState string `json:"tracker_state"`
	Relay        struct {
		State string `json:"state"`
		Relay string `json:"relay"`
	} `json:"relay"`
	Online []session `json:"online"`
}

type session struct {
	Name       string  `json:"name"`
	Path       string  `json:"path"`
	RemoteAddr string  `json:"remote_addr"`
	RTTMillis  float64 `json:"rtt_ms"`
}

// user is one daemon of the demo, seen through chatctl.
type user struct {
	name    string
	sock    string
	chatd   *proc
	chatctl string
}

// ctl runs chatctl against u's daemon and returns its standard output.
func (u *user) ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, u.chatctl, append([]string{"--socket", u.sock}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s: chatctl %s: %w: %s", u.name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func (u *user) status(ctx context.Context) (status, error) {
	var st status
	out, err := u.ctl(ctx, "status", "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("%s: chatctl status --json: %w", u.name, err)
	}
	return st, nil
}
