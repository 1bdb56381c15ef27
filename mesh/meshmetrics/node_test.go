package meshmetrics_test

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
	"github.com/canopy-fleet/canopy/mesh/memnet"
	"github.com/canopy-fleet/canopy/mesh/meshmetrics"
)

// values gathers cs and returns every sample by `name{label="value",...}`.
func values(t *testing.T, cs ...prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			k := f.GetName()
			if len(ls) > 0 {
				k += "{" + strings.Join(ls, ",") + "}"
			}
			out[k] = v
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never reached: %s", what)
}

// node is a started mesh node with its collectors.
type node struct {
	n  *mesh.Node
	ev *meshmetrics.Events
	c  *meshmetrics.Node
}

func (n node) values(t *testing.T) map[string]float64 { return values(t, n.c, n.ev) }

func start(t *testing.T, f *memnet.Fabric, name kernel.NodeName, role kernel.Role, listen bool, parent string, cfg mesh.Config) node {
	t.Helper()
	cfg.Network = f.Endpoint(name, role)
	if listen {
		cfg.Listen = "mem:" + string(name)
	}
	if parent != "" {
		cfg.Parents = []mesh.Parent{{Addr: "mem:" + parent, Name: kernel.NodeName(parent)}}
	}
	return startNode(t, name, role, cfg)
}

// startNode starts a node on cfg's network, listen address and parents.
func startNode(t *testing.T, name kernel.NodeName, role kernel.Role, cfg mesh.Config) node {
	t.Helper()
	st, err := blobstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ev := meshmetrics.NewEvents()
	cfg.Name, cfg.Role, cfg.Blobs, cfg.OnEvent = name, role, st, ev.Record
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval, cfg.LostAfter = 50*time.Millisecond, 300*time.Millisecond
	}
	n, err := mesh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return node{n, ev, meshmetrics.New(n)}
}

// TestNodeMetrics runs a controller, a gateway and a leaf over memnet and
// reads their metrics: links, outbox delivery, a blob fetched through the
// gateway, and a parent lost and regained.
func TestNodeMetrics(t *testing.T) {
	f := memnet.NewFabric()
	delivered := make(chan kernel.OutboxMessage, 16)
	ctl := start(t, f, "ctl", kernel.RoleController, true, "", mesh.Config{
		OnOutbox: func(_ kernel.NodeName, m kernel.OutboxMessage) error { delivered <- m; return nil },
	})
	gw := start(t, f, "gw", kernel.RoleGateway, true, "ctl", mesh.Config{})
	out := mesh.NewMemOutbox()
	for _, p := range []string{"a", "b", "c"} {
		out.Append("status", []byte(p))
	}
	leaf := start(t, f, "leaf", kernel.RoleLeaf, false, "gw", mesh.Config{Outbox: out})

	eventually(t, "the leaf's outbox delivered and acknowledged", func() bool {
		return len(delivered) == 3 && out.Len() == 0 && leaf.values(t)["canopy_mesh_outbox_messages_total"] == 3
	})
	eventually(t, "the gateway's child ready", func() bool { return gw.ev.Count(mesh.EventChildReady) == 1 })

	digest, err := ctl.n.Blobs().Put(bytes.NewReader([]byte("module bytes")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.n.FetchBlob(context.Background(), digest); err != nil {
		t.Fatal(err)
	}

	// The serve ends on the serving side a moment after the fetch has
	// every byte.
	eventually(t, "the controller's blob serve ended", func() bool { return ctl.values(t)["canopy_mesh_blob_serves_active"] == 0 })
	c, g, l := ctl.values(t), gw.values(t), leaf.values(t)
	for _, x := range []struct {
		node string
		v    map[string]float64
		key  string
		want float64
	}{
		{"ctl", c, "canopy_mesh_children", 1},
		{"ctl", c, "canopy_mesh_outbox_messages_total", 3},
		{"ctl", c, "canopy_mesh_blobs_served_total", 1},
		{"ctl", c, `canopy_mesh_link_events_total{event="child-up"}`, 1},
		{"ctl", c, `canopy_mesh_link_events_total{event="parent-lost"}`, 0},
		{"gw", g, "canopy_mesh_parent_up", 1},
		{"gw", g, "canopy_mesh_children", 1},
		{"gw", g, "canopy_mesh_blobs_fetched_total", 1},
		{"gw", g, "canopy_mesh_blobs_served_total", 1},
		{"gw", g, `canopy_mesh_link_events_total{event="parent-up"}`, 1},
		{"gw", g, `canopy_mesh_link_events_total{event="child-up"}`, 1},
		{"leaf", l, "canopy_mesh_parent_up", 1},
		{"leaf", l, "canopy_mesh_children", 0},
		{"leaf", l, "canopy_mesh_blobs_fetched_total", 1},
		{"ctl", c, "canopy_mesh_connections_pending", 0},
		{"ctl", c, "canopy_mesh_connections_refused_total", 0},
		{"ctl", c, "canopy_mesh_control_resyncs_total", 0},
		{"ctl", c, "canopy_mesh_route_claims_refused_total", 0},
		{"leaf", l, "canopy_mesh_certificate_refusals_total", 0},
		{"gw", g, "canopy_mesh_blob_serves_stalled_total", 0},
		{"gw", g, "canopy_mesh_blob_serves_busy_total", 0},
		{"gw", g, "canopy_mesh_blobstore_evicted_total", 0},
	} {
		if got, ok := x.v[x.key]; !ok || got != x.want {
			t.Errorf("%s: %s = %v (present %v), want %v", x.node, x.key, got, ok, x.want)
		}
	}
	if _, ok := c["canopy_mesh_parent_up"]; ok {
		t.Error("the root reports a parent")
	}
	for _, x := range []struct {
		node string
		v    map[string]float64
		peer string
	}{{"ctl", c, "gw"}, {"gw", g, "ctl"}, {"gw", g, "leaf"}, {"leaf", l, "gw"}} {
		if _, ok := x.v[`canopy_mesh_link_rtt_seconds{peer="`+x.peer+`"}`]; !ok {
			t.Errorf("%s: no round trip to %s", x.node, x.peer)
		}
	}

	// A cut link: the gateway loses its parent, then links again.
	f.Block("gw", "ctl")
	eventually(t, "the gateway's parent lost", func() bool {
		v := gw.values(t)
		return v["canopy_mesh_parent_up"] == 0 && v[`canopy_mesh_link_events_total{event="parent-lost"}`] >= 1
	})
	f.Unblock("gw", "ctl")
	eventually(t, "the gateway's parent back", func() bool {
		v := gw.values(t)
		return v["canopy_mesh_parent_up"] == 1 && v[`canopy_mesh_link_events_total{event="parent-up"}`] >= 2
	})

	for _, n := range []node{ctl, gw, leaf} {
		for _, col := range []prometheus.Collector{n.c, n.ev} {
			problems, err := testutil.CollectAndLint(col)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("promlint: %s: %s", p.Metric, p.Text)
			}
		}
	}
}
