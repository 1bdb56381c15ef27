package raftlayer

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

type counterFSM struct {
	mu  sync.Mutex
	log []string
}

func (f *counterFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, string(l.Data))
	return len(f.log)
}
func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("not needed") }
func (f *counterFSM) Restore(io.ReadCloser) error         { return nil }
func (f *counterFSM) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// Three real raft nodes elect a leader and replicate over QUIC with mutual
// TLS through the layer.
func TestRaftOverQUIC(t *testing.T) {
	ca, err := identity.LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}
	type member struct {
		layer *Layer
		raft  *raft.Raft
		fsm   *counterFSM
	}
	var ms []*member
	var servers []raft.Server
	for i := 0; i < 3; i++ {
		name := kernel.NodeName(fmt.Sprintf("ctl-%d", i))
		key, _ := identity.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
		tok, _ := auth.Tokens.Create(kernel.RoleController, time.Minute)
		csr, _ := identity.NewCSR(key, name)
		cert, caDER, err := auth.Join(tok, csr)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := identity.NewNode(key, cert, caDER)
		nw, err := quicnet.New(quicnet.Config{Identity: id, Revoked: ca.IsRevoked})
		if err != nil {
			t.Fatal(err)
		}
		l, err := Listen(nw, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, &member{layer: l, fsm: &counterFSM{}})
		servers = append(servers, raft.Server{ID: raft.ServerID(name), Address: raft.ServerAddress(l.Addr().String())})
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	for i, m := range ms {
		cfg := raft.DefaultConfig()
		cfg.LocalID = servers[i].ID
		cfg.Logger = logger
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
		trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: m.layer, MaxPool: 3, Timeout: 2 * time.Second, Logger: logger})
		store := raft.NewInmemStore()
		r, err := raft.NewRaft(cfg, m.fsm, store, store, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatal(err)
		}
		m.raft = r
		if i == 0 {
			if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.raft.Shutdown().Error()
			m.layer.Close()
		}
	})
	var leader *member
	deadline := time.Now().Add(20 * time.Second)
	for leader == nil {
		if time.Now().After(deadline) {
			t.Fatal("no leader elected over the mesh layer")
		}
		for _, m := range ms {
			if m.raft.State() == raft.Leader {
				leader = m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		if err := leader.raft.Apply([]byte(fmt.Sprint("entry-", i)), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	for time.Now().Before(deadline) {
		done := true
		for _, m := range ms {
			if len(m.fsm.entries()) != 10 {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, m := range ms {
		t.Errorf("member %d applied %d entries, want 10", i, len(m.fsm.entries()))
	}
}
