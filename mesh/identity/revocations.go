package identity

import (
	"math/big"
	"sort"
	"sync"
)

// Revocations is a node's copy of the cluster's revoked certificate serials
// (hex), refreshed from the controller. Use IsRevoked as the Revoked check
// of a Verifier or of quicnet. Safe for concurrent use; the zero value is
// an empty list.
type Revocations struct {
	mu sync.RWMutex
	m  map[string]bool
}

// IsRevoked reports whether serial is on the list.
func (r *Revocations) IsRevoked(serial *big.Int) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[serial.Text(16)]
}

// Replace installs a new list and returns the serials that were not on the
// old one.
func (r *Revocations) Replace(serials []string) (added []string) {
	m := make(map[string]bool, len(serials))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range serials {
		m[s] = true
		if !r.m[s] {
			added = append(added, s)
		}
	}
	r.m = m
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
