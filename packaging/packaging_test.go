package packaging

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/internal/testenv"
)

// needTool skips without the tool, or fails under CI where every
// dependency must be present.
func needTool(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.SkipOrFail(t, name+" not installed (Debian package systemd): "+err.Error())
	}
	return p
}

var binDir string

// TestMain builds, once, the binaries the units start.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The tests that need the binaries skip in buildAll.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "packaging")
	if err != nil {
		panic(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/chatd", "../cmd/chat-tracker", "../cmd/chatctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("build: " + err.Error() + "\n" + string(out))
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildAll(t *testing.T) string {
	t.Helper()
	skipShort(t)
	return binDir
}

// skipShort skips the system tests (they run systemd-analyze, dpkg, a
// user manager) under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: packaging tests build the binaries and run system tools")
	}
}

// The units are valid systemd units (systemd-analyze verify), with their
// ExecStart pointed at freshly built binaries.
func TestUnitsVerify(t *testing.T) {
	skipShort(t)
	analyze := needTool(t, "systemd-analyze")
	bin := buildAll(t)
	dir := t.TempDir()
	for _, u := range []string{"chatd.service", "chatd.socket", "chat-tracker.service"} {
		b, err := os.ReadFile(filepath.Join("systemd", u))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "/usr/bin/", bin+"/"))
		if err := os.WriteFile(filepath.Join(dir, u), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// verify checks that the Documentation= man pages exist: give it the
	// ones the binaries make.
	man := filepath.Join(dir, "man")
	for _, p := range []struct{ bin, sect string }{{"chatd", "1"}, {"chatctl", "1"}, {"chat-tracker", "8"}} {
		os.MkdirAll(filepath.Join(man, "man"+p.sect), 0o755)
		page, err := exec.Command(filepath.Join(bin, p.bin), "--man").Output()
		if err != nil {
			t.Fatalf("%s --man: %v", p.bin, err)
		}
		os.WriteFile(filepath.Join(man, "man"+p.sect, p.bin+"."+p.sect), page, 0o644)
	}
	for _, set := range [][]string{{"chatd.service", "chatd.socket"}, {"chat-tracker.service"}} {
		args := []string{"verify"}
		for _, u := range set {
			args = append(args, filepath.Join(dir, u))
		}
		cmd := exec.Command(analyze, args...)
		cmd.Env = append(os.Environ(), "MANPATH="+man)
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %v: %v\n%s", set, err, out)
		}
	}
}

// chatd's unit must say what the daemon really does: notify readiness,
// keep a watchdog, and be started by its control socket.
func TestChatdUnitMatchesTheDaemon(t *testing.T) {
	svc, _ := os.ReadFile("systemd/chatd.service")
	sock, _ := os.ReadFile("systemd/chatd.socket")
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecStart=/usr/bin/chatd",
		// The data directory may not exist on a fresh account: optional in
		// the sandbox, made before chatd starts.
		"ReadWritePaths=-%h/.local/share/chatd", "ExecStartPre=+/bin/mkdir -p -m 0700 %h/.local/share/chatd"} {
		if !strings.Contains(string(svc), want) {
			t.Errorf("chatd.service lacks %q", want)
		}
	}
	for _, want := range []string{"ListenStream=%t/chatd/control.sock", "SocketMode=0600", "DirectoryMode=0700"} {
		if !strings.Contains(string(sock), want) {
			t.Errorf("chatd.socket lacks %q", want)
		}
	}
}

// install.sh puts binaries, units and a private config where the user's
// systemd finds them.
func TestInstallScript(t *testing.T) {
	bin := buildAll(t)
	repo := t.TempDir()
	for _, d := range []string{"bin", "packaging/systemd", "configs"} {
		os.MkdirAll(filepath.Join(repo, d), 0o755)
	}
	for _, f := range []string{"packaging/install.sh", "packaging/systemd/chatd.service", "packaging/systemd/chatd.socket"} {
		copyFile(t, filepath.Join("..", f), filepath.Join(repo, f), 0o755)
	}
	copyFile(t, "../configs/chatd.toml", filepath.Join(repo, "configs/chatd.toml"), 0o644)
	copyFile(t, filepath.Join(bin, "chatd"), filepath.Join(repo, "bin/chatd"), 0o755)
	copyFile(t, filepath.Join(bin, "chatctl"), filepath.Join(repo, "bin/chatctl"), 0o755)
	home := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(repo, "packaging/install.sh"))
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "NO_SYSTEMCTL=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		".local/bin/chatd": 0o755, ".local/bin/chatctl": 0o755,
		".config/systemd/user/chatd.service": 0o644, ".config/systemd/user/chatd.socket": 0o644,
		".config/chatd/chatd.toml": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(home, path))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %v", path, err, fi.Mode().Perm(), mode)
		}
	}
	svc, _ := os.ReadFile(filepath.Join(home, ".config/systemd/user/chatd.service"))
	if !strings.Contains(string(svc), "ExecStart="+home+"/.local/bin/chatd") {
		t.Errorf("installed unit does not start the installed binary:\n%s", svc)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// Every unit is measured with systemd-analyze security; both must rate
// "OK" or better (the README quotes these figures).
func TestUnitsSecurity(t *testing.T) {
	skipShort(t)
	analyze := needTool(t, "systemd-analyze")
	runtime := t.TempDir() // --user needs an XDG_RUNTIME_DIR, even offline
	for _, u := range []struct {
		unit string
		user bool
	}{{"chatd.service", true}, {"chat-tracker.service", false}} {
		args := []string{"security", "--offline=yes", "--no-pager"}
		if u.user {
			args = append(args, "--user")
		}
		cmd := exec.Command(analyze, append(args, filepath.Join("systemd", u.unit))...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime)
		out, err := cmd.CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(u.unit) + `: ([0-9.]+) (\w+)`).FindStringSubmatch(string(out))
		if m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", u.unit, err, out)
			continue
		}
		t.Logf("%s: exposure %s %s", u.unit, m[1], m[2])
		if m[2] != "OK" && m[2] != "SAFE" {
			t.Errorf("%s: exposure %s %s, want OK or better", u.unit, m[1], m[2])
		}
	}
}
