package repl

import (
	"strconv"
	"strings"
	"time"
)

// args is a parsed command line: positional words plus the flags any
// command may take (each command allows only its own).
type args struct {
	pos     []string
	json    bool
	wait    bool
	yes     bool
	timeout time.Duration
	limit   int
	tracker string
}

const defaultTimeout = 30 * time.Second

// parseArgs accepts flags anywhere (history bob --json), "--" to end them,
// and for send treats an unknown dash-word in the text as text, so that
// "send bob -1 from me" works.
func parseArgs(cmd *command, raw []string) (*args, error) {
	a := &args{timeout: defaultTimeout}
	for i := 0; i < len(raw); i++ {
		w := raw[i]
		if w == "--" {
			a.pos = append(a.pos, raw[i+1:]...)
			break
		}
		if len(w) < 2 || w[0] != '-' {
			a.pos = append(a.pos, w)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if !cmd.allows(name) {
			if cmd.name == "send" && len(a.pos) >= 1 {
				a.pos = append(a.pos, w)
				continue
			}
			return nil, errUnknownFlag(cmd.name, w)
		}
		if needsValue(name) && !hasVal {
			if i+1 >= len(raw) {
				return nil, errFlagNeedsValue(cmd.name, name)
			}
			i++
			val = raw[i]
		}
		if err := a.set(cmd.name, name, val); err != nil {
			return nil, err
		}
	}
	if len(a.pos) < cmd.minArgs || (cmd.maxArgs >= 0 && len(a.pos) > cmd.maxArgs) {
		return nil, errUsage(cmd.usage())
	}
	return a, nil
}

func needsValue(flag string) bool { return flag == "timeout" || flag == "limit" || flag == "tracker" }

func (a *args) set(cmd, name, val string) error {
	switch name {
	case "json":
		a.json = true
	case "wait":
		a.wait = true
	case "yes":
		a.yes = true
	case "timeout":
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return errBadFlagValue(cmd, name, val, "a duration like 30s or 2m")
		}
		a.timeout = d
	case "limit":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return errBadFlagValue(cmd, name, val, "a positive number")
		}
		a.limit = n
	case "tracker":
		a.tracker = val
	}
	return nil
}
