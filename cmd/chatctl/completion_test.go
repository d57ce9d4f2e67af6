package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/internal/testenv"
)

// complete runs the bash completion function on line (the cursor at its
// end) with chatctl on PATH and returns the candidates.
func complete(t *testing.T, sock, line string) []string {
	t.Helper()
	script := chatctlRun(t, sock, "", "completion", "bash").want(t, 0).stdout
	words := strings.Fields(line)
	if strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	prog := script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
		itoa(len(words)-1) + "\n_chatctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
	cmd.Env = append(os.Environ(), "CHATD_SOCKET="+sock, "PATH="+filepath.Dir(chatctl)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", line, err, out)
	}
	return strings.Fields(string(out))
}

func itoa(n int) string { return strconv.Itoa(n) }

// The bash script completes commands, each command's flags, and contact
// names asked from chatd.
func TestBashCompletion(t *testing.T) {
	b, sock := daemon(t)
	b.AddUser("carol")
	chatctlRun(t, sock, "", "add", "bob").want(t, 0)
	chatctlRun(t, sock, "", "add", "carol").want(t, 0)
	for line, want := range map[string]string{
		"chatctl s":                  "send status",
		"chatctl --json se":          "send",
		"chatctl send ":              "bob carol",
		"chatctl send c":             "carol",
		"chatctl send bob ":          "",
		"chatctl history --limit 5 ": "bob carol",
		"chatctl send --":            "--json --wait --timeout",
		"chatctl init --":            "--json --tracker",
		"chatctl completion ":        "bash zsh",
		"chatctl add ":               "",
	} {
		if got := strings.Join(complete(t, sock, line), " "); got != want {
			t.Errorf("complete %q = %q, want %q", line, got, want)
		}
	}
}

// The zsh script is valid zsh.
func TestZshCompletionParses(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		testenv.SkipOrFail(t, "zsh not installed (Debian package zsh)")
	}
	_, sock := daemon(t)
	script := chatctlRun(t, sock, "", "completion", "zsh").want(t, 0).stdout
	if !strings.HasPrefix(script, "#compdef chatctl\n") {
		t.Errorf("zsh script does not start with #compdef: %q", script[:40])
	}
	if out, err := exec.Command(zsh, "-n", "-c", script).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
	chatctlRun(t, sock, "", "completion", "fish").want(t, 2)
}

// The man page is made from the same table as help: every command and
// flag in one is in the other.
func TestManMatchesHelp(t *testing.T) {
	_, sock := daemon(t)
	help := chatctlRun(t, sock, "", "help").want(t, 0).stdout
	man := strings.ReplaceAll(chatctlRun(t, sock, "", "--man").want(t, 0).stdout, `\-`, "-")
	for _, w := range []string{"init NAME", "completion bash|zsh", "--tracker URL", "--socket SOCKET", "--json", "exit codes"} {
		if !strings.Contains(help, w) {
			t.Errorf("help lacks %q", w)
		}
		if !strings.Contains(strings.ToLower(man), strings.ToLower(w)) {
			t.Errorf("man page lacks %q", w)
		}
	}
	if !strings.HasPrefix(man, `.\" Generated`) || !strings.Contains(man, ".TH CHATCTL 1") {
		t.Errorf("not a man page: %q", man[:80])
	}
}
