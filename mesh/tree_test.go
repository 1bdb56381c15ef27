package mesh

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// events records link events for assertions.
type events struct {
	mu sync.Mutex
	ev []Event
	ch chan Event
}

func newEvents() *events { return &events{ch: make(chan Event, 10000)} }

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

func (e *events) count(kind EventKind, peer kernel.NodeName) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := 0
	for _, ev := range e.ev {
		if ev.Kind == kind && (peer == "" || ev.Peer == peer) {
			k++
		}
	}
	return k
}

// tree is a test fleet: a controller, gateways and leaves.
type tree struct {
	t     *testing.T
	nodes map[kernel.NodeName]*Node
	ev    map[kernel.NodeName]*events
	addr  map[kernel.NodeName]string
	net   func(kernel.NodeName, kernel.Role) link.Network
	base  Config
}

func testLogger() *slog.Logger {
	if os.Getenv("MESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func newTree(t *testing.T, net func(kernel.NodeName, kernel.Role) link.Network, base Config) *tree {
	tr := &tree{t: t, nodes: map[kernel.NodeName]*Node{}, ev: map[kernel.NodeName]*events{}, addr: map[kernel.NodeName]string{}, net: net, base: base}
	t.Cleanup(tr.closeAll)
	return tr
}

func (tr *tree) closeAll() {
	var wg sync.WaitGroup
	for _, n := range tr.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Close()
		}()
	}
	wg.Wait()
}

// start makes and starts a node; listen is its address ("" for a leaf).
func (tr *tree) start(name kernel.NodeName, role kernel.Role, listen string, parents ...kernel.NodeName) *Node {
	tr.t.Helper()
	cfg := tr.base
	cfg.Name, cfg.Role, cfg.Network, cfg.Listen = name, role, tr.net(name, role), listen
	cfg.Logger = testLogger()
	for _, p := range parents {
		cfg.Parents = append(cfg.Parents, Parent{Addr: tr.addr[p], Name: p})
	}
	if cfg.Blobs == nil {
		st, err := blobstore.Open(tr.t.TempDir())
		if err != nil {
			tr.t.Fatal(err)
		}
		cfg.Blobs = st
	}
	ev := newEvents()
	cfg.OnEvent = ev.add
	n, err := New(cfg)
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		tr.t.Fatal(err)
	}
	tr.nodes[name], tr.ev[name] = n, ev
	if listen != "" {
		tr.addr[name] = n.Addr()
	}
	return n
}

// eventually polls cond until it holds or the time runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func leafName(i int) kernel.NodeName { return kernel.NodeName(fmt.Sprintf("leaf-%02d", i)) }

// build starts controller ctl, gateways gw-1 and gw-2 (each with the other
// as alternate... no: gateways link to ctl) and leaves, half under each
// gateway with the other gateway as alternate.
func (tr *tree) build(leaves int, listen func(kernel.NodeName) string) {
	tr.start("ctl", kernel.RoleController, listen("ctl"))
	tr.start("gw-1", kernel.RoleGateway, listen("gw-1"), "ctl")
	tr.start("gw-2", kernel.RoleGateway, listen("gw-2"), "ctl")
	for i := 0; i < leaves; i++ {
		p, alt := kernel.NodeName("gw-1"), kernel.NodeName("gw-2")
		if i%2 == 1 {
			p, alt = alt, p
		}
		tr.start(leafName(i), kernel.RoleLeaf, "", p, alt)
	}
	ctl := tr.nodes["ctl"]
	eventually(tr.t, "every leaf routed at the controller", func() bool {
		for i := 0; i < leaves; i++ {
			if !ctl.Reaches(leafName(i)) {
				return false
			}
		}
		return true
	})
}

func memTree(t *testing.T, base Config) (*tree, *memnet.Fabric) {
	f := memnet.NewFabric()
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network { return f.Endpoint(n, r) }, base)
	return tr, f
}

func memListen(name kernel.NodeName) string { return "mem:" + string(name) }

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// parentWants reports whether this node's parent announced interest that
// matches topic.
func (n *Node) parentWants(topic string) bool {
	n.mu.Lock()
	p := n.parent
	n.mu.Unlock()
	return p != nil && p.wants(topic)
}
