package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileName is the name of the key file inside the data directory.
const KeyFileName = "identity.key"

const pemType = "PRIVATE KEY"

// LoadOrCreate loads the identity from dir/identity.key, or makes a new one
// there if the file does not exist (created reports which). dir is created
// with mode 0700 if missing.
func LoadOrCreate(dir string) (id *Identity, created bool, err error) {
	return LoadOrCreateFile(filepath.Join(dir, KeyFileName))
}

// LoadOrCreateFile is LoadOrCreate for a key file at any path (chat-relay
// keeps its own key with the same rules): the file is refused if group or
// others can read it, and made 0600, in a 0700 directory, if missing.
func LoadOrCreateFile(path string) (id *Identity, created bool, err error) {
	id, err = load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create identity directory: %w", err)
	}
	id, err = Generate(nil)
	if err != nil {
		return nil, false, err
	}
	data, err := MarshalKey(id)
	if err != nil {
		return nil, false, err
	}
	if err := writeNew(path, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another chatd made the key between our read and our write:
			// use theirs rather than fork the identity.
			id, err = load(path)
			return id, false, err
		}
		return nil, false, err
	}
	return id, true, nil
}

func load(path string) (*Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open identity key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat identity key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("identity key %s is not a regular file: %w", path, ErrCorrupt)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %#o: %w; run: chmod 600 %s",
			path, st.Mode().Perm(), ErrInsecurePermissions, path)
	}
	// A PEM Ed25519 key is about 120 bytes; anything much larger is not ours.
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read identity key %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("read identity key %s: larger than %d bytes: %w", path, maxKeyFile, ErrCorrupt)
	}
	id, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("load identity key %s: %w", path, err)
	}
	return id, nil
}

// maxKeyFile bounds what is read of a key file.
const maxKeyFile = 4096

// MarshalKey encodes id's private key in the key file format: one PEM
// "PRIVATE KEY" block with a PKCS#8 body.
func MarshalKey(id *Identity) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.Private)
	if err != nil {
		return nil, fmt.Errorf("encode identity key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// ParseKey decodes the key file format. Anything but exactly one PEM
// "PRIVATE KEY" block with a valid PKCS#8 Ed25519 key (surrounding
// whitespace aside) is ErrCorrupt.
func ParseKey(data []byte) (*Identity, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block: %w", ErrCorrupt)
	}
	if block.Type != pemType || len(block.Headers) != 0 {
		return nil, fmt.Errorf("PEM block %q is not a plain %q: %w", block.Type, pemType, ErrCorrupt)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("trailing data after the key: %w", ErrCorrupt)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not Ed25519: %w", k, ErrCorrupt)
	}
	return &Identity{Private: priv, Public: priv.Public().(ed25519.PublicKey)}, nil
}

// writeNew writes data to path atomically without ever replacing an
// existing file: a temporary file is written and synced, then hard-linked
// to path (link fails if path exists, where rename would overwrite), and
// the directory is synced so the new name survives a crash.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".identity-*.tmp")
	if err != nil {
		return fmt.Errorf("write identity key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, data); err != nil {
		return fmt.Errorf("write identity key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("install identity key %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		syncErr := d.Sync()
		d.Close()
		if syncErr != nil {
			return fmt.Errorf("sync identity directory: %w", syncErr)
		}
	}
	return nil
}

func writeSync(f *os.File, data []byte) error {
	// CreateTemp promises 0600 today; the key's secrecy should not rest on
	// that staying true.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
