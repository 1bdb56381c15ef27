package identity

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"sort"
	"strings"
	"sync"
)

// Revocations is a node's copy of the cluster's revoked certificate serials
// (hex), refreshed from the controller. Use IsRevoked as the Revoked check
// of a Verifier or of quicnet. Safe for concurrent use; the zero value is
// an empty list kept in memory, OpenRevocations one kept in a file.
type Revocations struct {
	mu    sync.RWMutex
	m     map[string]bool
	path  string // "" keeps the list in memory only
	dirty bool   // the file is behind m (a write failed): the next Replace writes it
	// wmu orders the file writes of concurrent Replaces; mu is not held
	// across a write (a synced file: IsRevoked, on every handshake, would
	// wait for the disk).
	wmu sync.Mutex
}

// writeRevocations writes the list's file (a variable for tests).
var writeRevocations = writeFile

// OpenRevocations opens the list kept in the file at path (none yet is
// an empty list); Replace writes it there. A node started while its
// parent is out of reach thus still refuses the certificates revoked
// before, rather than admitting them until its first refresh. A damaged
// file is an error naming the line.
func OpenRevocations(path string) (*Revocations, error) {
	r := &Revocations{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("revocations: %w", err)
	}
	if r.m, err = parseRevocations(b); err != nil {
		return nil, fmt.Errorf("revocations %s: %w", path, err)
	}
	return r, nil
}

// parseRevocations reads a serial (lowercase hex) per line.
func parseRevocations(b []byte) (map[string]bool, error) {
	m := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		s := strings.TrimSpace(line)
		if s == "" {
			continue
		}
		if strings.Trim(s, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("line %d: %q is not a serial number (lowercase hex)", i+1, s)
		}
		m[s] = true
	}
	return m, nil
}

// IsRevoked reports whether serial is on the list.
func (r *Revocations) IsRevoked(serial *big.Int) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[serial.Text(16)]
}

// Replace installs a new list and returns the serials that were not on the
// old one. A list opened with OpenRevocations is written to its file when
// it changed (best effort: a failed write is tried again at the next
// Replace, the list being in memory meanwhile).
func (r *Revocations) Replace(serials []string) (added []string) {
	m := make(map[string]bool, len(serials))
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	for _, s := range serials {
		m[s] = true
		if !r.m[s] {
			added = append(added, s)
		}
	}
	changed := len(added) > 0 || len(m) != len(r.m)
	r.m = m
	write := r.path != "" && (changed || r.dirty)
	r.mu.Unlock()
	if write {
		list := make([]string, 0, len(m))
		for s := range m {
			if s != "" && strings.Trim(s, "0123456789abcdef") == "" { // no other form names a certificate
				list = append(list, s)
			}
		}
		sort.Strings(list)
		failed := writeRevocations(r.path, []byte(strings.Join(list, "\n")+"\n"), 0o600) != nil
		r.mu.Lock()
		r.dirty = failed
		r.mu.Unlock()
	}
	return added
}

// List returns the revoked serials of the CA whose certificates have not
// expired, sorted.
func (ca *CA) List() []string {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.pruneRevokedLocked() {
		ca.saveRevokedLocked() // best effort: the file is pruned again at the next change
	}
	out := make([]string, 0, len(ca.revoked))
	for s := range ca.revoked {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
