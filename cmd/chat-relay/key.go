package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/p2pchat/p2pchat/daemon/identity"
)

// loadOrCreateKey reads the relay's Ed25519 key from path, or makes one
// there (0600, in a 0700 directory) on first start. The file format and
// the refusal of a key that group or others can read are chatd's
// (package daemon/identity): one PEM PKCS#8 block, and ErrInsecurePermissions.
func loadOrCreateKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	key, err = loadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create key directory: %w", err)
	}
	id, err := identity.Generate(nil)
	if err != nil {
		return nil, false, err
	}
	data, err := identity.MarshalKey(id)
	if err != nil {
		return nil, false, err
	}
	if err := writeNew(path, data); err != nil {
		if errors.Is(err, fs.ErrExist) { // another instance won the race: use its key
			key, err = loadKey(path)
			return key, false, err
		}
		return nil, false, err
	}
	return id.Private, true, nil
}

func loadKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open relay key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat relay key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("relay key %s is not a regular file: %w", path, identity.ErrCorrupt)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %#o: %w; run: chmod 600 %s", path, st.Mode().Perm(), identity.ErrInsecurePermissions, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("read relay key %s: %w", path, err)
	}
	id, err := identity.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("load relay key %s: %w", path, err)
	}
	return id.Private, nil
}

// writeNew writes data to path without ever replacing a file: a synced
// 0600 temporary file is hard-linked into place (link fails if path
// exists).
func writeNew(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".relay-key-*.tmp")
	if err != nil {
		return fmt.Errorf("write relay key: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write relay key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("install relay key %s: %w", path, err)
	}
	return nil
}
