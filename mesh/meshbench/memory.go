package meshbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// ChildEnv is the environment variable that makes a process run the
// children of IdleLinkMemory (see ChildrenMain).
const ChildEnv = "CANOPY_MESHBENCH_CHILDREN"

// IdleLinkMemory links 1,000 children (20 when quick) to one gateway and
// measures the gateway's heap and stack growth per idle child link. With
// o.Spawn the children run in another process, so only the gateway's side
// is counted; without it they run here and the figure is an upper bound
// (both ends of each link plus each child's node).
func IdleLinkMemory(ctx context.Context, o Options) ([]Result, error) {
	children := 1000
	if o.Quick {
		children = 20
	}
	if err := raiseFileLimit(uint64(children*2 + 256)); err != nil {
		return nil, err
	}
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	defer e.close()
	e.classical = o.ClassicalKeyExchange
	if o.StreamHeartbeats {
		// A keep-alive over a third of LostAfter: the links fall back to
		// a heartbeat message on a stream of its own every interval.
		e.keepAlive = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// This process is the gateway: it runs as canopy's parents do.
	prevGC := debug.SetGCPercent(-1)
	debug.SetGCPercent(prevGC)
	gogc := mesh.TuneGCForParent()
	defer debug.SetGCPercent(prevGC)
	gw, err := e.memoryGateway(ctx, o)
	if err != nil {
		return nil, err
	}
	defer gw.close()
	ids := make([]*identity.Node, children)
	for i := range ids {
		name := kernel.NodeName(fmt.Sprintf("leaf-%d", i))
		if ids[i], err = e.identity(name, kernel.RoleLeaf); err != nil {
			return nil, err
		}
		if err := ids[i].Save(filepath.Join(e.dir, string(name))); err != nil {
			return nil, err
		}
	}
	sp := childSpec{Dir: e.dir, Addr: gw.addr(), N: children, Heartbeat: o.Heartbeat, Classical: o.ClassicalKeyExchange, Transport: o.Transport, KeepAlive: e.keepAlive}
	spec, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	before := inUse()
	where := "in this process: both ends and each child's node counted (upper bound)"
	if o.Spawn != nil {
		cmd := o.Spawn()
		cmd.Env = append(os.Environ(), ChildEnv+"="+string(spec))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("memory: start children: %w", err)
		}
		defer func() {
			stdin.Close() // the children exit when their stdin closes
			cmd.Wait()
		}()
		where = "children in another process: the gateway's side only"
	} else {
		stop, err := runChildren(ctx, sp)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		k := gw.linked()
		if k >= children {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("memory: only %d of %d children linked", k, children)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cpu0, t0 := processCPU(), time.Now()
	time.Sleep(2 * time.Second) // idle: a few keep-alives (or heartbeats) each
	cpu := float64(processCPU()-cpu0) / float64(time.Since(t0)) * 100
	after := inUse()
	if o.HeapProfile != "" {
		if err := writeHeapProfile(o.HeapProfile); err != nil {
			return nil, err
		}
	}
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(children) / 1024 }
	heap, live, stack := per(after.heapInuse, before.heapInuse), per(after.heapLive, before.heapLive), per(after.stack, before.stack)
	name, variant := "memory per idle child link", ""
	if o.ClassicalKeyExchange {
		name, variant = "memory per idle link, X25519 only", "; opt-in classical key exchange (no post-quantum hybrid)"
	}
	if o.Transport {
		name, variant = "memory per idle QUIC connection (transport alone)", "; quicnet alone: no mesh node, one goroutine per connection accepting streams"
	}
	if o.Heartbeat != 0 {
		variant += fmt.Sprintf("; heartbeat every %v", o.Heartbeat)
	}
	if o.StreamHeartbeats {
		name, variant = name+" (a stream per heartbeat)", variant+"; keep-alive 1s: a heartbeat stream every 500ms instead of transport liveness"
	}
	variant += gw.churn()
	variant += fmt.Sprintf("; the process used %.1f%% of a core idle", cpu)
	return []Result{{Name: name, Value: heap + stack, Unit: "KiB", Target: "<= 50 KiB",
		Note: fmt.Sprintf("%d children; %s%s; TLS cipher preference %s, GOGC %s; heap spans in use %.1f KiB (live objects %.1f) + stacks %.1f KiB; %.1f goroutines per link",
			children, where, variant, quicnet.CipherPreference(), gogc, heap, live, stack, float64(after.goroutines-before.goroutines)/float64(children))}}, nil
}

// timers applies a heartbeat interval other than the default to cfg.
func timers(cfg mesh.Config, heartbeat time.Duration) mesh.Config {
	if heartbeat != 0 {
		cfg.HeartbeatInterval, cfg.LostAfter = heartbeat, 4*heartbeat
	}
	return cfg
}

// childSpec is what the children process of IdleLinkMemory is told, in
// ChildEnv as JSON.
type childSpec struct {
	Dir, Addr string
	N         int
	Heartbeat time.Duration // 0: the default
	Classical bool          // quicnet.Config.ClassicalKeyExchange
	Transport bool          // bare quicnet connections, no mesh nodes
	KeepAlive time.Duration // quicnet.Config.KeepAlivePeriod; 0: the default
}

// ChildrenMain runs the children of IdleLinkMemory when the process was
// started with ChildEnv set; it reports whether it did (the caller then
// exits). It returns when stdin closes. The children take the TLS cipher
// preference from quicnet.CipherEnv, as canopy's main does.
func ChildrenMain() (bool, error) {
	v := os.Getenv(ChildEnv)
	if v == "" {
		return false, nil
	}
	if err := quicnet.SetCipherPreference(os.Getenv(quicnet.CipherEnv)); err != nil {
		return true, err
	}
	var sp childSpec
	if err := json.Unmarshal([]byte(v), &sp); err != nil {
		return true, fmt.Errorf("%s: %w", ChildEnv, err)
	}
	if err := raiseFileLimit(uint64(sp.N*2 + 256)); err != nil {
		return true, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := runChildren(ctx, sp)
	if err != nil {
		return true, err
	}
	defer stop()
	io.Copy(io.Discard, os.Stdin)
	return true, nil
}

// runChildren starts sp.N leaves with the identities saved under sp.Dir,
// linked to sp.Addr; with sp.Transport, bare quicnet connections instead.
func runChildren(ctx context.Context, sp childSpec) (func(), error) {
	if sp.Transport {
		return dialChildren(ctx, sp.Dir, sp.Addr, sp.N, sp.Classical)
	}
	dir, addr, n, heartbeat := sp.Dir, sp.Addr, sp.N, sp.Heartbeat
	var nodes []*mesh.Node
	stop := func() {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nd.Close()
			}()
		}
		wg.Wait()
	}
	for i := 0; i < n; i++ {
		id, err := identity.LoadNode(filepath.Join(dir, fmt.Sprintf("leaf-%d", i)))
		if err != nil {
			stop()
			return nil, err
		}
		nw, err := quicnet.New(quicnet.Config{Identity: id, ClassicalKeyExchange: sp.Classical, KeepAlivePeriod: sp.KeepAlive})
		if err != nil {
			stop()
			return nil, err
		}
		nd, err := mesh.New(timers(mesh.Config{Name: id.Name, Role: kernel.RoleLeaf, Network: nw, Identity: id, Parents: []mesh.Parent{{Addr: addr}}}, heartbeat))
		if err != nil {
			stop()
			return nil, err
		}
		if err := nd.Start(ctx); err != nil {
			stop()
			return nil, err
		}
		nodes = append(nodes, nd)
		// Join in waves of 50, as a fleet powering up would, so handshakes
		// do not starve the heartbeats of children already linked.
		if len(nodes)%50 == 0 || len(nodes) == n {
			wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
			for _, w := range nodes[(len(nodes)-1)/50*50:] {
				if err := w.WaitParent(wctx); err != nil {
					cancel()
					stop()
					return nil, fmt.Errorf("child %s did not link: %w", w.Name(), err)
				}
			}
			cancel()
		}
	}
	return stop, nil
}

// memUse is the memory figures after a full collection.
type memUse struct {
	heapInuse, heapLive, stack uint64
	goroutines                 int
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("memory: heap profile: %w", err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("memory: heap profile: %w", err)
	}
	return f.Close()
}

func inUse() memUse {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memUse{m.HeapInuse, m.HeapAlloc, m.StackInuse, runtime.NumGoroutine()}
}
