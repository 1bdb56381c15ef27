package mesh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
)

var fastTimers = Config{HeartbeatInterval: 50 * time.Millisecond, LostAfter: 300 * time.Millisecond, ReportInterval: 100 * time.Millisecond, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, OutboxPoll: 20 * time.Millisecond}

// treeSuite runs the tree behaviours against a network made by mk.
func treeSuite(t *testing.T, mk func(t *testing.T) (*tree, func(kernel.NodeName) string, func(a, b kernel.NodeName), func(a, b kernel.NodeName))) {
	t.Run("RequestsBothWays", func(t *testing.T) {
		tr, listen, _, _ := mk(t)
		tr.build(20, listen)
		ctl := tr.nodes["ctl"]
		for i := 0; i < 20; i++ {
			leaf := tr.nodes[leafName(i)]
			leaf.Handle("echo", func(_ context.Context, from kernel.NodeName, b []byte) ([]byte, error) {
				return append([]byte(string(from)+":"), b...), nil
			})
		}
		ctl.Handle("whoami", func(_ context.Context, from kernel.NodeName, b []byte) ([]byte, error) {
			return []byte(from), nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := 0; i < 20; i++ {
			got, err := ctl.Request(ctx, leafName(i), "echo", []byte("ping"))
			if err != nil || string(got) != "ctl:ping" {
				t.Fatalf("down to %s: %q %v", leafName(i), got, err)
			}
			got, err = tr.nodes[leafName(i)].Request(ctx, "", "whoami", nil)
			if err != nil || kernel.NodeName(got) != leafName(i) {
				t.Fatalf("up from %s: %q %v", leafName(i), got, err)
			}
		}
		// Leaf to leaf across gateways goes up and down again.
		got, err := tr.nodes[leafName(0)].Request(ctx, leafName(1), "echo", []byte("x"))
		if err != nil || string(got) != string(leafName(0))+":x" {
			t.Fatalf("leaf to leaf: %q %v", got, err)
		}
		var re *RemoteError
		if _, err := ctl.Request(ctx, leafName(3), "nope", nil); !errors.As(err, &re) || re.Code != CodeNoHandler {
			t.Fatalf("unknown kind: %v", err)
		}
		if _, err := ctl.Request(ctx, "ghost", "echo", nil); !errors.Is(err, ErrNoRoute) {
			t.Fatalf("unknown node: %v", err)
		}
		if tr.nodes["gw-1"].Stats().Relayed.Load() == 0 {
			t.Fatal("gateway relayed nothing")
		}
	})

	t.Run("FailoverAndGatewayRestart", func(t *testing.T) {
		tr, listen, _, _ := mk(t)
		tr.build(20, listen)
		gw1 := tr.nodes["gw-1"]
		addr := gw1.Addr()
		gw1.Close()
		eventually(t, "gw-1's leaves fail over to gw-2", func() bool {
			for i := 0; i < 20; i += 2 {
				if tr.nodes[leafName(i)].Parent() != "gw-2" {
					return false
				}
			}
			return true
		})
		ctl := tr.nodes["ctl"]
		eventually(t, "controller routes every leaf via gw-2", func() bool {
			return tr.ev["ctl"].count(EventChildLost, "gw-1") > 0 && ctl.Reaches(leafName(0))
		})
		leaf0 := tr.nodes[leafName(0)]
		leaf0.Handle("ping", func(context.Context, kernel.NodeName, []byte) ([]byte, error) { return []byte("pong"), nil })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if got, err := ctl.Request(ctx, leafName(0), "ping", nil); err != nil || string(got) != "pong" {
			t.Fatalf("after failover: %q %v", got, err)
		}
		// Restart gw-1 on its address; it rejoins and new children can use it.
		delete(tr.nodes, "gw-1")
		tr.addr["gw-1"] = addr
		tr.start("gw-1", kernel.RoleGateway, addr, "ctl")
		eventually(t, "restarted gw-1 linked", func() bool { return ctl.Reaches("gw-1") })
		tr.start("leaf-new", kernel.RoleLeaf, "", "gw-1")
		eventually(t, "new leaf under restarted gw-1", func() bool { return ctl.Reaches("leaf-new") })
	})

	t.Run("PartitionAndHeal", func(t *testing.T) {
		tr, listen, block, unblock := mk(t)
		tr.build(4, listen)
		ctl := tr.nodes["ctl"]
		block("gw-1", "ctl")
		eventually(t, "controller loses gw-1", func() bool { return !ctl.Reaches("gw-1") })
		// gw-1's leaves stay with gw-1 (it is alive) unless they fail over;
		// gw-2's subtree is untouched.
		eventually(t, "gw-2's subtree still routed", func() bool { return ctl.Reaches("gw-2") && ctl.Reaches(leafName(1)) })
		unblock("gw-1", "ctl")
		eventually(t, "healed: the whole tree routed again", func() bool {
			for i := 0; i < 4; i++ {
				if !ctl.Reaches(leafName(i)) {
					return false
				}
			}
			return ctl.Reaches("gw-1")
		})
	})

	t.Run("Topics", func(t *testing.T) {
		tr, listen, _, _ := mk(t)
		tr.build(6, listen)
		type got struct {
			node kernel.NodeName
			m    Message
		}
		var mu sync.Mutex
		var recv []got
		sub := func(n kernel.NodeName, filter string) func() {
			cancel, err := tr.nodes[n].Subscribe(filter, func(m Message) {
				mu.Lock()
				recv = append(recv, got{n, m})
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			return cancel
		}
		sub(leafName(1), "sensors/+/temp") // under gw-2
		sub(leafName(0), "sensors/#")      // under gw-1
		unsub := sub("ctl", "sensors/a/temp")
		ctl := tr.nodes["ctl"]
		eventually(t, "interest reaches the publisher's gateway", func() bool {
			// sensors/zz/temp matches only leaf-01's filter: seen from gw-1's
			// and leaf-02's parents, leaf-01's interest has crossed the tree.
			return tr.nodes["gw-1"].parentWants("sensors/a/temp") && tr.nodes[leafName(2)].parentWants("sensors/a/temp") &&
				tr.nodes["gw-1"].parentWants("sensors/zz/temp") && tr.nodes[leafName(2)].parentWants("sensors/zz/temp")
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.nodes[leafName(2)].Publish(ctx, "sensors/a/temp", []byte("21.5"), 1); err != nil {
			t.Fatal(err)
		}
		eventually(t, "three subscribers got it", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(recv) == 3
		})
		// Leaves without interest never saw it: gw-2 forwarded only to leaf-01.
		if tr.nodes[leafName(3)].Stats().Published.Load() != 0 {
			t.Fatal("publication reached a leaf with no subscribers")
		}
		// Local delivery does not leave the node.
		before := ctl.Stats().Published.Load()
		unsub()
		n0 := tr.nodes[leafName(0)]
		sent := n0.Stats().Published.Load()
		local := make(chan Message, 1)
		n0.Subscribe("local/only", func(m Message) { local <- m })
		time.Sleep(50 * time.Millisecond)
		n0.Publish(ctx, "local/only", []byte("x"), 1)
		select {
		case <-local:
		case <-time.After(5 * time.Second):
			t.Fatal("local subscriber got nothing")
		}
		if n0.Stats().Published.Load() != sent {
			t.Fatal("local publication left the node")
		}
		_ = before
		if err := n0.Publish(ctx, "bad/+/topic", nil, 0); err == nil {
			t.Fatal("wildcard topic accepted for publish")
		}
		if _, err := n0.Subscribe("bad/#/x", func(Message) {}); err == nil {
			t.Fatal("bad filter accepted")
		}
	})

	t.Run("BlobThroughGatewayCache", func(t *testing.T) {
		tr, listen, _, _ := mk(t)
		tr.build(20, listen)
		data := bytes.Repeat([]byte("module-bytes "), 30000) // 390 KB
		ctl := tr.nodes["ctl"]
		d, err := ctl.cfg.Blobs.Put(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := tr.nodes[leafName(i)].FetchBlob(ctx, d); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// Once per gateway (a fetch resumed after a lost link counts again).
		if got := ctl.Stats().BlobServes.Load(); got < 2 || got > 4 {
			t.Fatalf("controller served the blob %d times, want 2 (once per gateway)", got)
		}
		p, _ := tr.nodes[leafName(5)].cfg.Blobs.Path(d)
		if _, err := tr.nodes[leafName(5)].FetchBlob(ctx, d); err != nil {
			t.Fatal(err)
		}
		if b, err := readFile(p); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("leaf's copy differs: %v", err)
		}
		if _, err := tr.nodes[leafName(5)].FetchBlob(ctx, blobstore.Digest([]byte("absent"))); err == nil {
			t.Fatal("absent blob fetched")
		}
	})

	t.Run("Outbox", func(t *testing.T) {
		tr, listen, block, unblock := mk(t)
		var mu sync.Mutex
		var got []uint64
		base := tr.base
		tr.base.OnOutbox = func(from kernel.NodeName, m kernel.OutboxMessage) error {
			mu.Lock()
			defer mu.Unlock()
			if from == "leaf-ob" {
				got = append(got, m.ID)
			}
			return nil
		}
		tr.build(2, listen)
		ob := NewMemOutbox()
		tr.base = base
		tr.base.Outbox = ob
		leaf := tr.start("leaf-ob", kernel.RoleLeaf, "", "gw-1", "gw-2")
		ctx := context.Background()
		for i := 0; i < 50; i++ {
			ob.Append("t/x", []byte(fmt.Sprint(i)))
		}
		eventually(t, "first 50 delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 50 })
		// Cut the leaf off, queue more, heal: the rest arrive, in order, once.
		block("leaf-ob", "gw-1")
		block("leaf-ob", "gw-2")
		block("leaf-ob", "ctl") // an alternate it learned from its gateway
		eventually(t, "leaf lost its parent", func() bool { return leaf.Parent() == "" })
		for i := 50; i < 120; i++ {
			ob.Append("t/x", []byte(fmt.Sprint(i)))
		}
		unblock("leaf-ob", "gw-1")
		unblock("leaf-ob", "gw-2")
		unblock("leaf-ob", "ctl")
		eventually(t, "all 120 delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 120 })
		eventually(t, "outbox drained", func() bool { m, _ := ob.Peek(ctx, 1); return len(m) == 0 })
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 120 || !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) {
			t.Fatalf("delivered %d messages, in order %v", len(got), sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }))
		}
		for i, id := range got {
			if id != uint64(i+1) {
				t.Fatalf("message %d has id %d: duplicate or gap", i, id)
			}
		}
	})
}

func TestTreeMemnet(t *testing.T) {
	treeSuite(t, func(t *testing.T) (*tree, func(kernel.NodeName) string, func(a, b kernel.NodeName), func(a, b kernel.NodeName)) {
		tr, f := memTree(t, fastTimers)
		return tr, memListen, f.Block, f.Unblock
	})
}
