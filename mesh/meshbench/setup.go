// Package meshbench measures the mesh on loopback against raw quic-go in
// the same run: request/response latency, blob throughput, join time,
// failover time and memory per idle child link. The Go benchmarks in
// package mesh and `canopy bench mesh` both run these functions.
package meshbench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// Result is one measured figure with its same-run baseline where it has one.
type Result struct {
	Name     string
	Value    float64
	Unit     string
	Baseline float64 // 0 when there is none
	Target   string
	Note     string
}

// Options tune a run.
type Options struct {
	Quick bool // fewer iterations: a smoke run, not a measurement
	// Spawn, when set, makes a command that re-runs this program as the
	// children of the memory measurement (the program must call
	// ChildrenMain first thing); nil runs them in this process.
	Spawn func() *exec.Cmd
	// HeapProfile, when set, is a file the memory measurement writes the
	// gateway's heap profile to while its children are linked and idle
	// (for `go tool pprof -sample_index=inuse_space`).
	HeapProfile string
	// Heartbeat, when set, is the heartbeat interval of the memory
	// measurement's gateway and children (LostAfter four times it), for
	// measuring what heartbeats cost; 0 is the default (500ms).
	Heartbeat time.Duration
	// ClassicalKeyExchange makes the memory measurement's gateway and
	// children use quicnet.Config.ClassicalKeyExchange. Measure variants
	// in a fresh process each (BenchmarkIdleLinkMemory): a second
	// measurement in one process reuses the first one's freed goroutine
	// descriptors and counts less.
	ClassicalKeyExchange bool
	// Transport makes the memory measurement count bare quicnet
	// connections (no mesh node at either end): the transport's floor
	// under the memory per idle child link.
	Transport bool
	// StreamHeartbeats makes the memory measurement's links beat with a
	// message on a stream of its own every heartbeat interval (a
	// keep-alive too long for transport liveness), for what that costs.
	StreamHeartbeats bool
}

// env is a cluster authority and a scratch directory.
type env struct {
	dir       string
	auth      *identity.Authority
	classical bool          // nodes use quicnet.Config.ClassicalKeyExchange
	keepAlive time.Duration // nodes' quicnet.Config.KeepAlivePeriod; 0: the default
}

func newEnv() (*env, error) {
	dir, err := os.MkdirTemp("", "meshbench-")
	if err != nil {
		return nil, err
	}
	ca, err := identity.LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	if err != nil {
		return nil, err
	}
	return &env{dir: dir, auth: &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}}, nil
}

func (e *env) close() { os.RemoveAll(e.dir) }

func (e *env) identity(name kernel.NodeName, role kernel.Role) (*identity.Node, error) {
	if role == kernel.RoleController {
		// Join tokens grant leaf or gateway only; controllers are issued
		// by the CA directly.
		return e.auth.Issue(filepath.Join(e.dir, string(name)), name, role)
	}
	key, err := identity.LoadOrCreateKey(filepath.Join(e.dir, string(name), "node.key"))
	if err != nil {
		return nil, err
	}
	tok, err := e.auth.Tokens.Create(role, time.Minute)
	if err != nil {
		return nil, err
	}
	csr, err := identity.NewCSR(key, name)
	if err != nil {
		return nil, err
	}
	cert, ca, err := e.auth.Join(tok, csr)
	if err != nil {
		return nil, err
	}
	return identity.NewNode(key, cert, ca)
}

// node starts a mesh node over QUIC with its own identity and blob store.
func (e *env) node(ctx context.Context, cfg mesh.Config) (*mesh.Node, error) {
	id, err := e.identity(cfg.Name, cfg.Role)
	if err != nil {
		return nil, err
	}
	qc := quicnet.Config{Identity: id, Revoked: e.auth.CA.IsRevoked, ClassicalKeyExchange: e.classical, KeepAlivePeriod: e.keepAlive}
	if cfg.Role == kernel.RoleController {
		qc.Join = func(_ context.Context, tok string, csr []byte) ([]byte, []byte, error) { return e.auth.Join(tok, csr) }
	}
	nw, err := quicnet.New(qc)
	if err != nil {
		return nil, err
	}
	cfg.Network = nw
	cfg.Identity = id // as canopy agent and server run: hellos carry signed route proofs
	if cfg.Blobs == nil {
		st, err := blobstore.Open(filepath.Join(e.dir, string(cfg.Name), "blobs"))
		if err != nil {
			return nil, err
		}
		cfg.Blobs = st
	}
	n, err := mesh.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// percentile of sorted durations, p in [0,1].
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// All runs every measurement.
func All(ctx context.Context, o Options) ([]Result, error) {
	var out []Result
	for _, f := range []func(context.Context, Options) ([]Result, error){RequestLatency, BlobThroughput, Join, Failover, IdleLinkMemory} {
		rs, err := f(ctx, o)
		if err != nil {
			return out, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
