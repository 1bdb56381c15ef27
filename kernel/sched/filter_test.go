package sched_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/sched"
)

// TestFilters puts one leaf "x" under each filter in turn and checks that
// the filter, and only it, rejects it — with a reason naming the cause.
func TestFilters(t *testing.T) {
	cases := []struct {
		name   string
		node   func(*kernel.Node)
		dep    func(*kernel.Deployment)
		tasks  []kernel.Task
		filter string // "" means eligible
		reason string // substring of the reason
	}{
		{name: "eligible", filter: "", reason: "passed every filter"},
		{name: "down", node: func(n *kernel.Node) { n.Health = kernel.HealthDown }, filter: "health", reason: "is down"},
		{name: "drained", node: func(n *kernel.Node) { n.Health = kernel.HealthDrained }, filter: "health", reason: "is drained"},
		{name: "not seen", node: func(n *kernel.Node) { n.LastSeen = now.Add(-time.Minute) }, filter: "health", reason: "not seen for 1m0s"},
		{name: "label differs", dep: func(d *kernel.Deployment) { d.Selector.Labels = map[string]string{"site": "plant-9"} },
			filter: "selector.labels", reason: "node has site=plant-1"},
		{name: "label missing", dep: func(d *kernel.Deployment) { d.Selector.Labels = map[string]string{"line": "3"} },
			filter: "selector.labels", reason: "no line label"},
		{name: "labels all match", node: func(n *kernel.Node) { n.Labels["line"] = "3" },
			dep: func(d *kernel.Deployment) { d.Selector.Labels = map[string]string{"site": "plant-1", "line": "3"} }, filter: ""},
		{name: "arch", dep: func(d *kernel.Deployment) { d.Selector.Arch = []string{"amd64", "riscv64"} },
			filter: "selector.arch", reason: `arch "arm64"`},
		{name: "arch listed", dep: func(d *kernel.Deployment) { d.Selector.Arch = []string{"amd64", "arm64"} }, filter: ""},
		{name: "device", dep: func(d *kernel.Deployment) { d.Requires.Devices = []kernel.DeviceKind{kernel.DeviceCamera} },
			filter: "requires.devices", reason: "no camera"},
		{name: "device present", dep: func(d *kernel.Deployment) { d.Requires.Devices = []kernel.DeviceKind{kernel.DeviceGPIO} }, filter: ""},
		{name: "sensor", dep: func(d *kernel.Deployment) { d.Requires.Sensors = []string{"sensors/+/humidity"} },
			filter: "requires.sensors", reason: "sensors/+/humidity"},
		{name: "sensor present", node: func(n *kernel.Node) { n.Capability.Sensors = []string{"sensors/x/humidity"} },
			dep: func(d *kernel.Deployment) { d.Requires.Sensors = []string{"sensors/+/humidity"} }, filter: ""},
		{name: "score", dep: func(d *kernel.Deployment) { d.Requires.Score = 601 }, filter: "requires.score", reason: "600 is below"},
		{name: "score equal", dep: func(d *kernel.Deployment) { d.Requires.Score = 600 }, filter: ""},
		{name: "max latency", dep: func(d *kernel.Deployment) {
			d.Near = &kernel.Near{Node: "gw-b", MaxLatency: kernel.Duration(10 * time.Millisecond)}
		}, filter: "near.maxLatency", reason: "52ms to near node gw-b"},
		{name: "max latency measured", node: func(n *kernel.Node) { n.Latency["gw-b"] = 4 * time.Millisecond },
			dep: func(d *kernel.Deployment) {
				d.Near = &kernel.Near{Node: "gw-b", MaxLatency: kernel.Duration(10 * time.Millisecond)}
			}, filter: ""},
		{name: "no near target", dep: func(d *kernel.Deployment) {
			d.Near = &kernel.Near{Topic: "nothing/here", MaxLatency: kernel.Duration(10 * time.Millisecond)}
		}, filter: "near.maxLatency", reason: "no node matches"},
		{name: "memory total", node: func(n *kernel.Node) { n.Capability.Memory = 512 * kernel.MiB },
			dep: func(d *kernel.Deployment) { d.Requires.Memory = 1 * kernel.GiB }, filter: "requires.memory", reason: "448MiB allocatable"},
		{name: "memory left", dep: func(d *kernel.Deployment) { d.Requires.Memory = 1 * kernel.GiB },
			tasks: hog("x", 3*kernel.GiB), filter: "resources.memory", reason: "left after placed tasks"},
		{name: "memory live", node: func(n *kernel.Node) { n.Capability.Live.MemoryFree = 8 * kernel.MiB },
			filter: "resources.memory", reason: "8MiB left"},
		{name: "cpu", node: func(n *kernel.Node) { n.Capability.Live.CPUPercent = 100 }, filter: "resources.cpu", reason: "reference cores"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := node("x", "gw-a")
			if tc.node != nil {
				tc.node(&x)
			}
			d := dep("app", func(d *kernel.Deployment) {
				if tc.dep != nil {
					tc.dep(d)
				}
			})
			snap := &sched.Snapshot{Nodes: tree(x), Tasks: tc.tasks, Deployments: hogDeps(tc.tasks)}
			dec := place(t, cluster(t, snap, sched.Config{}), d)
			v := verdict(t, dec, "x")
			if v.Filter != tc.filter {
				t.Fatalf("filter = %q (%s), want %q", v.Filter, v.Reason, tc.filter)
			}
			if tc.filter != "" && v.Outcome != sched.OutcomeRejected {
				t.Errorf("outcome %s, want rejected", v.Outcome)
			}
			if tc.filter == "" && v.Outcome == sched.OutcomeRejected {
				t.Errorf("outcome %s, want not rejected", v.Outcome)
			}
			if !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", v.Reason, tc.reason)
			}
			for _, p := range placedOn(dec) {
				if p == "x" && tc.filter != "" {
					t.Errorf("placed on x although %s rejected it", tc.filter)
				}
			}
		})
	}
}

// hog is one task of deployment "hog" using mem on node n.
func hog(n string, mem kernel.Bytes) []kernel.Task {
	return []kernel.Task{{ID: "hog-1", Deployment: "hog", Version: 1, Node: kernel.NodeName(n), State: kernel.TaskRunning}}
}

func hogDeps(tasks []kernel.Task) []kernel.Deployment {
	if len(tasks) == 0 {
		return nil
	}
	return []kernel.Deployment{dep("hog", func(d *kernel.Deployment) { d.Limits.Memory = 3 * kernel.GiB })}
}

func TestFilterOrderFirstFailureWins(t *testing.T) {
	x := node("x", "gw-a", func(n *kernel.Node) { n.Health = kernel.HealthDown; n.Capability.Arch = "arm" })
	d := dep("app", func(d *kernel.Deployment) { d.Selector.Arch = []string{"amd64"} })
	dec := place(t, cluster(t, &sched.Snapshot{Nodes: tree(x)}, sched.Config{}), d)
	if v := verdict(t, dec, "x"); v.Filter != "health" {
		t.Fatalf("filter = %s, want health (the first filter)", v.Filter)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := sched.Config{Policy: "random", LatencyScale: -1, MemoryReserve: -1, RebalanceMargin: 2}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"policy", "latencyScale", "memoryReserve", "rebalanceMargin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := (sched.Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	if _, err := sched.NewCluster(&sched.Snapshot{}, bad); err == nil {
		t.Fatal("NewCluster accepted a bad config")
	}
}

func TestNewClusterRejectsDuplicateNodes(t *testing.T) {
	_, err := sched.NewCluster(&sched.Snapshot{Nodes: []kernel.Node{node("a", ""), node("a", "")}}, sched.Config{})
	if err == nil || !strings.Contains(err.Error(), `duplicate node "a"`) {
		t.Fatalf("err = %v", err)
	}
}
