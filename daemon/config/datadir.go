package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// DefaultDataDir is where chatd keeps its identity key, message store and
// account file when data_dir is not set: $XDG_DATA_HOME/chatd
// (~/.local/share/chatd). chatd.service creates it before its sandbox is
// set up (ExecStartPre=+mkdir), so the first start of a fresh account
// works.
func DefaultDataDir() string {
	return filepath.Join(xdgDir("XDG_DATA_HOME", ".local/share"), "chatd")
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
