package mesh

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// A module deployed to 1,000 leaves under 10 gateways leaves the controller
// 10 times, not 1,000: each gateway fetches once and serves its subtree
// from its cache. Runs on memnet (the same node code as over QUIC).
func TestBlobFanOutThousandLeaves(t *testing.T) {
	const gateways, perGateway = 10, 100
	base := Config{HeartbeatInterval: 5 * time.Second, LostAfter: time.Minute, ReportInterval: time.Hour, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
	start := time.Now()
	tr, _ := memTree(t, base)
	ctl := tr.start("ctl", kernel.RoleController, "mem:ctl")
	for g := 0; g < gateways; g++ {
		name := kernel.NodeName(fmt.Sprintf("gw-%d", g))
		tr.start(name, kernel.RoleGateway, memListen(name), "ctl")
	}
	for g := 0; g < gateways; g++ {
		for i := 0; i < perGateway; i++ {
			tr.start(kernel.NodeName(fmt.Sprintf("leaf-%d-%d", g, i)), kernel.RoleLeaf, "", kernel.NodeName(fmt.Sprintf("gw-%d", g)))
		}
	}
	eventually(t, "1,000 leaves routed at the controller", func() bool {
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		return len(ctl.routes) == gateways+gateways*perGateway
	})
	t.Logf("tree up after %v", time.Since(start))
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 8<<10) // 64 KiB
	d, err := ctl.cfg.Blobs.Put(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	for name, n := range tr.nodes {
		if n.cfg.Role != kernel.RoleLeaf {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.FetchBlob(ctx, d); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("fetched after %v", time.Since(start))
	if len(failed) > 0 {
		t.Fatalf("%d leaves failed, first: %v", len(failed), failed[0])
	}
	// Each gateway fetches once; only a fetch interrupted by a lost link
	// (which resumes) would count as another, partial, serve.
	got := ctl.Stats().BlobServes.Load()
	t.Logf("controller served the blob %d times for 1,000 leaves under %d gateways", got, gateways)
	if got < gateways || got > 2*gateways {
		t.Fatalf("controller served the blob %d times for 1,000 leaves under %d gateways, want about %d", got, gateways, gateways)
	}
	var gwServes int64
	for g := 0; g < gateways; g++ {
		gwServes += tr.nodes[kernel.NodeName(fmt.Sprintf("gw-%d", g))].Stats().BlobServes.Load()
	}
	if gwServes < gateways*perGateway || gwServes > 2*gateways*perGateway {
		t.Fatalf("gateways served %d times, want %d", gwServes, gateways*perGateway)
	}
}
