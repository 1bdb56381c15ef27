package mesh

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/ledger"
	"github.com/canopy-fleet/canopy/mesh/memnet"
)

// BenchmarkOutboxLedger measures outbox delivery from leaves straight to
// the root over memnet, with the in-memory ledger and with mesh/ledger on
// disk (one fsync'd record per source, replaced once per batch of up to 64
// messages). b.N is the number of messages per leaf; it reports messages
// per second at the root.
func BenchmarkOutboxLedger(b *testing.B) {
	for _, leaves := range []int{1, 8} {
		for _, store := range []string{"memory", "disk"} {
			b.Run(fmt.Sprintf("leaves=%d/%s", leaves, store), func(b *testing.B) { benchOutboxLedger(b, leaves, store == "disk") })
		}
	}
}

func benchOutboxLedger(b *testing.B, leaves int, disk bool) {
	fab := memnet.NewFabric()
	var accepted atomic.Int64
	cfg := fastTimers
	cfg.Name, cfg.Role, cfg.Network, cfg.Listen = "ctl", kernel.RoleController, fab.Endpoint("ctl", kernel.RoleController), "mem:ctl"
	cfg.OnOutbox = func(kernel.NodeName, kernel.OutboxMessage) error { accepted.Add(1); return nil }
	if disk {
		l, err := ledger.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		cfg.OutboxLedger = l
	}
	nodes := []*Node{}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	start := func(cfg Config) {
		n, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	start(cfg)
	obs := make([]*MemOutbox, leaves)
	for i := range obs {
		obs[i] = NewMemOutbox()
		for range b.N {
			obs[i].Append("t/x", []byte("twenty-byte payload."))
		}
	}
	b.ResetTimer()
	for i, ob := range obs {
		name := kernel.NodeName(fmt.Sprintf("leaf-%d", i))
		lc := fastTimers
		lc.Name, lc.Role, lc.Network, lc.Parents, lc.Outbox = name, kernel.RoleLeaf, fab.Endpoint(name, kernel.RoleLeaf), []Parent{{Addr: "mem:ctl", Name: "ctl"}}, ob
		start(lc)
	}
	for int(accepted.Load()) < leaves*b.N {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(leaves*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
