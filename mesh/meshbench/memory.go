package meshbench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
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
	before := inUse()
	where := "in this process: both ends and each child's node counted (upper bound)"
	if o.Spawn != nil {
		cmd := o.Spawn()
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d,%s,%t,%t", ChildEnv, e.dir, gw.addr(), children, o.Heartbeat, o.ClassicalKeyExchange, o.Transport))
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
		stop, err := runChildren(ctx, e.dir, gw.addr(), children, o.Heartbeat, o.ClassicalKeyExchange, o.Transport)
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
	time.Sleep(2 * time.Second) // idle: a few heartbeats each
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
	variant += gw.churn()
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
	parts := strings.Split(v, ",")
	if len(parts) != 6 {
		return true, fmt.Errorf("%s=%q: want DIR,ADDR,N,HEARTBEAT,CLASSICAL,TRANSPORT", ChildEnv, v)
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return true, fmt.Errorf("%s: %w", ChildEnv, err)
	}
	heartbeat, err := time.ParseDuration(parts[3])
	if err != nil {
		return true, fmt.Errorf("%s: heartbeat: %w", ChildEnv, err)
	}
	classical, err := strconv.ParseBool(parts[4])
	if err != nil {
		return true, fmt.Errorf("%s: classical: %w", ChildEnv, err)
	}
	transport, err := strconv.ParseBool(parts[5])
	if err != nil {
		return true, fmt.Errorf("%s: transport: %w", ChildEnv, err)
	}
	if err := raiseFileLimit(uint64(n*2 + 256)); err != nil {
		return true, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := runChildren(ctx, parts[0], parts[1], n, heartbeat, classical, transport)
	if err != nil {
		return true, err
	}
	defer stop()
	io.Copy(io.Discard, os.Stdin)
	return true, nil
}

// runChildren starts n leaves with the identities saved under dir, linked
// to addr, beating every heartbeat (0: the default); with transport, n
// bare quicnet connections instead.
func runChildren(ctx context.Context, dir, addr string, n int, heartbeat time.Duration, classical, transport bool) (func(), error) {
	if transport {
		return dialChildren(ctx, dir, addr, n, classical)
	}
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
		nw, err := quicnet.New(quicnet.Config{Identity: id, ClassicalKeyExchange: classical})
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
