package mesh

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

var (
	floodConns = flag.Int("mesh.floodconns", 6000, "connections BenchmarkConnectionFlood opens")
	floodFor   = flag.Duration("mesh.floodfor", 10*time.Second, "over how long BenchmarkConnectionFlood opens them")
)

// floodChildEnv, when set, makes TestFloodChildProcess the flooding
// process of BenchmarkConnectionFlood: "dir addr conns duration".
const floodChildEnv = "MESH_FLOOD_CHILD"

// BenchmarkConnectionFlood measures what a flood of silent connections
// from one valid leaf certificate costs a controller: another process
// (this test binary again) opens -mesh.floodconns connections over
// -mesh.floodfor and keeps them open; this process, a controller with a
// gateway linked to it, samples its RSS, heap and stacks, and goroutines.
// Metrics: the peaks, and whether the gateway's link survived.
//
//	go test -run '^$' -bench ConnectionFlood -benchtime 1x ./mesh/
func BenchmarkConnectionFlood(b *testing.B) {
	for b.Loop() {
		floodOnce(b)
	}
}

func floodOnce(b *testing.B) {
	dir := b.TempDir()
	ca, err := identity.LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	if err != nil {
		b.Fatal(err)
	}
	auth := &identity.Authority{CA: ca, Tokens: identity.NewTokens(nil)}
	network := func(name kernel.NodeName, role kernel.Role) link.Network {
		id, err := auth.Issue(filepath.Join(dir, string(name)), name, role)
		if err != nil {
			b.Fatal(err)
		}
		nw, err := quicnet.New(quicnet.Config{Identity: id, Revoked: ca.IsRevoked})
		if err != nil {
			b.Fatal(err)
		}
		return nw
	}
	ev := newEvents()
	gwEv := newEvents()
	ctl, err := New(Config{Name: "ctl", Role: kernel.RoleController, Network: network("ctl", kernel.RoleController), Listen: "127.0.0.1:0", OnEvent: ev.add})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ctl.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer ctl.Close()
	gw, err := New(Config{Name: "gw-1", Role: kernel.RoleGateway, Network: network("gw-1", kernel.RoleGateway),
		Parents: []Parent{{Addr: ctl.Addr(), Name: "ctl"}}, OnEvent: gwEv.add})
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	if err := gw.WaitParent(ctx); err != nil {
		b.Fatal(err)
	}
	network("evil", kernel.RoleLeaf) // its identity, saved for the flooding process
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss0, mem0 := rssKiB(), ms.HeapInuse+ms.StackInuse

	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodChildProcess$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %s", floodChildEnv, dir, ctl.Addr(), *floodConns, *floodFor))
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peakRSS int64
	var peakMem uint64
	peakG := 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("flooding process: %v\n%s", err, out)
			}
			waiting = false
		case <-tick.C:
			runtime.ReadMemStats(&ms)
			peakRSS = max(peakRSS, rssKiB())
			peakMem = max(peakMem, ms.HeapInuse+ms.StackInuse)
			peakG = max(peakG, runtime.NumGoroutine())
		}
	}
	lost := ev.count(EventChildLost, "gw-1") + gwEv.count(EventParentLost, "")
	b.ReportMetric(float64(peakRSS-rss0)/1024, "MiB-RSS-growth")
	b.ReportMetric(float64(peakMem-mem0)/(1<<20), "MiB-heap+stacks-growth")
	b.ReportMetric(float64(peakG), "peak-goroutines")
	b.ReportMetric(float64(lost), "gateway-losses")
	b.Logf("%s; controller refused %d, held at most %d before hello; RSS %d MiB before, peak %d MiB",
		strings.TrimSpace(out.String()), ctl.Stats().ConnsRefused.Load(), ctl.Stats().ConnsPendingPeak.Load(), rss0>>10, peakRSS>>10)
}

// rssKiB is this process's resident set size in KiB (Linux; 0 elsewhere).
func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			k, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return k
		}
	}
	return 0
}

// TestFloodChildProcess is BenchmarkConnectionFlood's flooding process;
// without floodChildEnv it has nothing to do.
func TestFloodChildProcess(t *testing.T) {
	spec := os.Getenv(floodChildEnv)
	if spec == "" {
		return
	}
	var dir, addr, forS string
	var conns int
	if _, err := fmt.Sscanf(spec, "%s %s %d %s", &dir, &addr, &conns, &forS); err != nil {
		t.Fatalf("%s=%q: %v", floodChildEnv, spec, err)
	}
	over, err := time.ParseDuration(forS)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.LoadNode(filepath.Join(dir, "evil"))
	if err != nil {
		t.Fatal(err)
	}
	nw, err := quicnet.New(quicnet.Config{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var keep []link.Conn
	defer func() { closeAll(keep) }()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	gap := over / time.Duration(conns)
	start := time.Now()
	for i := 0; i < conns; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := nw.Dial(ctx, addr, "")
			if err != nil {
				failed.Add(1)
				return
			}
			ok.Add(1)
			mu.Lock()
			keep = append(keep, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("flood: %d connections made, %d failed, in %v\n", ok.Load(), failed.Load(), time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
}
