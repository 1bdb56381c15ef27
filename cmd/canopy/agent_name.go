package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/canopy-fleet/canopy/kernel"
)

// hostNodeName is this machine's host name made into a valid node name:
// lowercase, the first label only, other characters as dashes.
func hostNodeName() (kernel.NodeName, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("no host name (pass --name): %w", err)
	}
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	b := []byte(h)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	name := strings.Trim(string(b), "-")
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	if !kernel.ValidName(name) {
		return "", fmt.Errorf("host name %q does not make a node name (pass --name)", h)
	}
	return kernel.NodeName(name), nil
}

// nodeName is --name when given (checked), else the host's name.
func nodeName(flag string) (kernel.NodeName, error) {
	if flag == "" {
		return hostNodeName()
	}
	if !kernel.ValidName(flag) {
		return "", usageError{fmt.Errorf("--name %q: want 1-63 lowercase letters, digits and dashes", flag)}
	}
	return kernel.NodeName(flag), nil
}

// roleFile marks what a data directory belongs to, so that a controller's
// directory is never started as an agent's, or the reverse.
const roleFile = "canopy-role"

// errInUse is lockFile's answer when another process holds the lock.
var errInUse = errors.New("in use by another process")

// claimDataDir creates dir (0700), locks it for this process (a second
// canopy on the same directory is refused) and checks or writes its role
// mark. The returned function releases the lock.
func claimDataDir(dir, role string) (release func(), err error) {
	if dir == "" {
		return nil, usageError{errors.New("--data is required")}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, errInUse) {
			return nil, fmt.Errorf("data dir %s is in use by another canopy process", dir)
		}
		return nil, fmt.Errorf("data dir %s: lock: %w", dir, err)
	}
	release = func() { lock.Close() }
	if err := checkRole(dir, role); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

func checkRole(dir, role string) error {
	p := filepath.Join(dir, roleFile)
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeFileAtomic(p, []byte(role+"\n"), 0o600)
	case err != nil:
		return fmt.Errorf("data dir: %w", err)
	}
	if got := strings.TrimSpace(string(b)); got != role {
		return fmt.Errorf("data dir %s belongs to a %s, not a %s: use another --data", dir, got, role)
	}
	return nil
}

// defaultDataDir is ~/.canopy/data (CONTRACT.md's default).
func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".canopy", "data")
	}
	return ""
}
