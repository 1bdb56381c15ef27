package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh"
)

// nodeRecord is what the controller keeps about a node: its role from the
// certificate it was issued (on disk) and its last status (in memory,
// except labels).
type nodeRecord struct {
	Name   kernel.NodeName `json:"name"`
	Role   kernel.Role     `json:"role"`
	Joined time.Time       `json:"joined"`
	// Key is the hash of the node's public key (identity.KeyHash): a join
	// under this name with another key is refused.
	Key    string            `json:"key,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Certs are the node's certificates not yet expired, as issued (at
	// the join and each renewal): what deleting the node revokes.
	Certs    []issuedCert    `json:"certs,omitempty"`
	Parent   kernel.NodeName `json:"-"`
	Addr     string          `json:"-"`
	Version  string          `json:"-"`
	LastSeen time.Time       `json:"-"`
}

// nodeRegistry is the controller's list of nodes (api.NodeLister): those
// that joined through it, kept in a file, with state and round trips read
// from the mesh. Safe for concurrent use.
type nodeRegistry struct {
	log  *slog.Logger
	path string
	self kernel.NodeName
	mesh *mesh.Node // set before the API serves

	mu sync.Mutex
	m  map[kernel.NodeName]*nodeRecord
	// gone are the nodes being deleted or deleted since the start: no
	// certificate is recorded (so none handed out) for them and no status
	// report brings them back, until one joins again (admit). Guarded by
	// mu.
	gone map[kernel.NodeName]bool
	// labelSave is the pending write of label changes (saveLabelsAfter);
	// nil when none is pending. Guarded by mu.
	labelSave *time.Timer
	writes    int // times the file was written, guarded by mu
}

// saveLabelsAfter is how long label changes wait to be written with
// whatever else changes meanwhile: labels come with every status report,
// so a node that changes them each time costs one write per interval, not
// one per report.
const saveLabelsAfter = 2 * time.Second

func openNodeRegistry(path string, self kernel.NodeName) (*nodeRegistry, error) {
	r := &nodeRegistry{log: slog.New(slog.DiscardHandler), path: path, self: self, m: map[kernel.NodeName]*nodeRecord{}, gone: map[kernel.NodeName]bool{}}
	var file struct {
		Nodes []*nodeRecord `json:"nodes"`
	}
	if err := loadJSON(path, "nodes", &file); err != nil {
		return nil, err
	}
	for i, n := range file.Nodes {
		if n == nil || !kernel.ValidName(string(n.Name)) {
			return nil, fmt.Errorf("nodes %s: entry %d is damaged (no valid node name)", path, i)
		}
		r.m[n.Name] = n
	}
	return r, nil
}

// admit refuses name for a device with key when the name is the
// controller's own or belongs to a node that joined with another key. The
// same device (same key) may join again, e.g. after its certificate
// expired offline.
func (r *nodeRegistry) admit(name kernel.NodeName, key string) error {
	if name == r.self {
		return fmt.Errorf("node name %q is the controller's: start the device with another --name", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec := r.m[name]; rec != nil && rec.Key != "" && rec.Key != key {
		return fmt.Errorf("node name %q is taken by another device (joined %s): start this one with another --name", name, rec.Joined.Format(time.DateOnly))
	}
	delete(r.gone, name) // a join with a token: the name is in use again
	return nil
}

// joined records a node issued a certificate for role with key.
func (r *nodeRegistry) joined(name kernel.NodeName, role kernel.Role, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recordLocked(name)
	rec.Role, rec.Joined, rec.Key = role, time.Now().UTC(), key
	return r.saveLocked()
}

// issuedCert is a certificate the CA issued to a node.
type issuedCert struct {
	Serial  string    `json:"serial"` // hex, as the CA's revocation list has it
	Expires time.Time `json:"expires"`
}

// issued records a certificate the authority signed for a node
// (identity.Authority.OnIssue), on disk before it returns, forgetting the
// node's certificates that have expired.
func (r *nodeRegistry) issued(c *x509.Certificate) error {
	name := kernel.NodeName(c.Subject.CommonName)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone[name] {
		// A renewal whose old certificate was checked just before the
		// deletion revoked it: the new one would not be revoked.
		return fmt.Errorf("node %s was deleted: it comes back only with a new join token", name)
	}
	rec := r.recordLocked(name)
	if rec.Role == "" && len(c.Subject.OrganizationalUnit) > 0 {
		rec.Role = kernel.Role(c.Subject.OrganizationalUnit[0]) // kept on disk from now on
	}
	now := time.Now()
	rec.Certs = slices.DeleteFunc(rec.Certs, func(ic issuedCert) bool { return !now.Before(ic.Expires) })
	rec.Certs = append(rec.Certs, issuedCert{Serial: c.SerialNumber.Text(16), Expires: c.NotAfter.UTC()})
	return r.saveLocked()
}

// liveCerts returns name's certificates that have not expired, and
// whether the registry knows name at all.
func (r *nodeRegistry) liveCerts(name kernel.NodeName) (certs []issuedCert, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.liveCertsLocked(name)
}

// deleting is liveCerts for a node about to be deleted: from now on no
// certificate is recorded for it (issued refuses) and its status reports
// are ignored, so every certificate it holds is among those returned.
// undelete ends that when the deletion fails.
func (r *nodeRegistry) deleting(name kernel.NodeName) (certs []issuedCert, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certs, known = r.liveCertsLocked(name)
	if known {
		r.gone[name] = true
	}
	return certs, known
}

// undelete takes back deleting after a deletion failed.
func (r *nodeRegistry) undelete(name kernel.NodeName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.gone, name)
}

func (r *nodeRegistry) liveCertsLocked(name kernel.NodeName) (certs []issuedCert, known bool) {
	rec := r.m[name]
	if rec == nil {
		return nil, false
	}
	now := time.Now()
	for _, ic := range rec.Certs {
		if now.Before(ic.Expires) {
			certs = append(certs, ic)
		}
	}
	return certs, true
}

// forget removes name from the registry (its name is free again).
func (r *nodeRegistry) forget(name kernel.NodeName) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.m[name]
	if rec == nil {
		return nil
	}
	delete(r.m, name)
	if err := r.saveLocked(); err != nil {
		r.m[name] = rec
		return err
	}
	return nil
}

// onStatus is the kindStatus handler.
func (r *nodeRegistry) onStatus(_ context.Context, from kernel.NodeName, body []byte) ([]byte, error) {
	st, err := decodeStatus(body)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone[from] {
		return nil, nil // sent before its links were dropped
	}
	rec := r.recordLocked(from)
	rec.Parent, rec.Addr, rec.Version, rec.LastSeen = st.Parent, st.Addr, st.Version, time.Now().UTC()
	if !maps.Equal(rec.Labels, st.Labels) {
		rec.Labels = st.Labels
		if r.labelSave == nil {
			r.labelSave = time.AfterFunc(saveLabelsAfter, r.saveLabels)
		}
	}
	return nil, nil
}

// saveLabels writes the label changes saveLabelsAfter gathered.
func (r *nodeRegistry) saveLabels() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.labelSave = nil
	if err := r.saveLocked(); err != nil {
		r.log.Warn("node labels not saved; will retry", "err", err)
		r.labelSave = time.AfterFunc(saveLabelsAfter, r.saveLabels)
	}
}

// close writes label changes still waiting.
func (r *nodeRegistry) close() {
	r.mu.Lock()
	pending := r.labelSave != nil && r.labelSave.Stop()
	r.mu.Unlock()
	if pending {
		r.saveLabels()
	}
}

// recordLocked returns name's record, made empty if there is none.
func (r *nodeRegistry) recordLocked(name kernel.NodeName) *nodeRecord {
	rec := r.m[name]
	if rec == nil {
		rec = &nodeRecord{Name: name}
		r.m[name] = rec
	}
	return rec
}

// Nodes lists the controller itself and every node known or linked.
func (r *nodeRegistry) Nodes(context.Context) ([]api.Node, error) {
	lat := r.mesh.Latency()
	r.mu.Lock()
	recs := make(map[kernel.NodeName]nodeRecord, len(r.m))
	for k, v := range r.m {
		recs[k] = *v
	}
	r.mu.Unlock()
	// Nodes the mesh sees that have not reported yet.
	for _, c := range r.mesh.Children() {
		if _, ok := recs[c]; !ok {
			recs[c] = nodeRecord{Name: c, Parent: r.self}
		}
	}
	self := api.Node{Name: string(r.self), Role: string(kernel.RoleController), State: api.StateLinked, Addr: r.mesh.Addr(), Version: version, LastSeen: time.Now().UTC()}
	self.LatencyMillis = latencyMillis(lat[r.self])
	out := []api.Node{self}
	for name, rec := range recs {
		if name == r.self {
			continue
		}
		n := api.Node{Name: string(name), Role: string(rec.Role), Parent: string(rec.Parent), Addr: rec.Addr, Labels: rec.Labels, Version: rec.Version, LastSeen: rec.LastSeen, State: api.StateLost}
		if r.mesh.Reaches(name) {
			n.State = api.StateLinked
		}
		if n.Role == "" {
			n.Role = "unknown"
		}
		if rec.Parent != "" {
			d := lat[name][rec.Parent]
			if d == 0 {
				d = lat[rec.Parent][name]
			}
			n.RTTMillis = millis(d)
		}
		n.LatencyMillis = latencyMillis(lat[name])
		out = append(out, n)
	}
	return out, nil
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// latencyMillis is a node's reported round trips in milliseconds; nil for
// none.
func latencyMillis(rtt map[kernel.NodeName]time.Duration) map[string]float64 {
	if len(rtt) == 0 {
		return nil
	}
	out := make(map[string]float64, len(rtt))
	for to, d := range rtt {
		out[string(to)] = millis(d)
	}
	return out
}

func (r *nodeRegistry) saveLocked() error {
	r.writes++
	file := struct {
		Nodes []*nodeRecord `json:"nodes"`
	}{Nodes: make([]*nodeRecord, 0, len(r.m))}
	for _, n := range r.m {
		if n.Role != "" { // only nodes that joined through this controller are kept
			file.Nodes = append(file.Nodes, n)
		}
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(r.path, b, 0o600)
}
