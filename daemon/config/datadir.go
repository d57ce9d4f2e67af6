package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultDataDir is where chatd keeps its identity key, message store and
// account file when data_dir is not set: $STATE_DIRECTORY when systemd
// made one for the unit (StateDirectory=chatd in chatd.service, which for
// a user unit is $XDG_STATE_HOME/chatd), else $XDG_STATE_HOME/chatd
// (~/.local/state/chatd). Releases before 0.2 used LegacyDataDir; chatd
// moves what it finds there (MigrateLegacy).
func DefaultDataDir() string {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d
	}
	return filepath.Join(xdgDir("XDG_STATE_HOME", ".local/state"), "chatd")
}

// LegacyDataDir is the data directory of earlier releases,
// $XDG_DATA_HOME/chatd (~/.local/share/chatd).
func LegacyDataDir() string {
	return filepath.Join(xdgDir("XDG_DATA_HOME", ".local/share"), "chatd")
}

// The files that make up chatd's data, in the order they are moved: the
// key first, so that a directory holding a key is a complete one.
var dataFiles = []string{"identity.key", "chatd.db", "chatd.db-wal", AccountFile}

// MigrateLegacy moves chatd's files from the legacy directory old to dir
// when dir holds no identity key and old does. Files are copied (the two
// directories can be different mounts under systemd's sandbox), synced,
// and then removed from old; failing to remove them is reported in
// leftover, not as an error. Run it before anything opens the store, with
// no older chatd running on old.
func MigrateLegacy(old, dir string) (moved bool, leftover error, err error) {
	if _, err := os.Stat(filepath.Join(dir, "identity.key")); !errors.Is(err, fs.ErrNotExist) {
		return false, nil, nil // dir is in use (or unreadable: opening it will say so)
	}
	if _, err := os.Stat(filepath.Join(old, "identity.key")); err != nil {
		return false, nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, nil, fmt.Errorf("move data from %s: %w", old, err)
	}
	// The key goes last: until it is in place, a crash leaves dir looking
	// unused and the next start copies everything again.
	order := append(append([]string{}, dataFiles[1:]...), dataFiles[0])
	for _, f := range order {
		if err := copyFile(filepath.Join(old, f), filepath.Join(dir, f)); err != nil {
			return false, nil, fmt.Errorf("move data from %s to %s: %w", old, dir, err)
		}
	}
	var errs []error
	for _, f := range append(dataFiles, "chatd.db-shm") {
		if err := os.Remove(filepath.Join(old, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		os.Remove(old) // only if empty; anything else there is the user's
	}
	return true, errors.Join(errs...), nil
}

// copyFile copies from to to with mode 0600 through a temporary file and a
// rename, synced; a missing source is skipped.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := to + ".moving"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}

// AccountFile is the file, in the data directory, where `chatctl init`
// records the chosen name and the tracker it is registered on.
const AccountFile = "account.toml"

// Account is what `chatctl init` chose.
type Account struct {
	Name    string `toml:"name"`
	Tracker string `toml:"tracker"`
}

// ReadAccount reads dir's account file; a missing one is the zero Account.
func ReadAccount(dir string) (Account, error) {
	var a Account
	_, err := toml.DecodeFile(filepath.Join(dir, AccountFile), &a)
	if errors.Is(err, fs.ErrNotExist) {
		return Account{}, nil
	}
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

// WriteAccount records a in dir, replacing the file atomically.
func WriteAccount(dir string, a Account) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write account: %w", err)
	}
	f, err := os.CreateTemp(dir, AccountFile+".*")
	if err != nil {
		return fmt.Errorf("write account: %w", err)
	}
	defer os.Remove(f.Name())
	fmt.Fprintln(f, "# Written by 'chatctl init'. chatd uses this name and tracker when")
	fmt.Fprintln(f, "# chatd.toml and its flags set no name.")
	err = toml.NewEncoder(f).Encode(a)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, AccountFile))
	}
	if err != nil {
		return fmt.Errorf("write account: %w", err)
	}
	return nil
}

// ApplyAccount fills in the name from a when the config file and flags
// gave none. The account's tracker comes with it, since that is where the
// name is registered, unless trackerFlag says --tracker was given.
func (c *Config) ApplyAccount(a Account, trackerFlag bool) {
	if c.Name != "" || a.Name == "" {
		return
	}
	c.Name = a.Name
	if a.Tracker != "" && !trackerFlag {
		c.Tracker = a.Tracker
	}
}
