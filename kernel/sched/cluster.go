package sched

import (
	"fmt"
	"slices"
	"strings"

	"github.com/canopy-fleet/canopy/kernel"
)

// Cluster is a snapshot indexed for fast decisions. Build it once per
// snapshot with NewCluster, then call Place for each deployment and Apply
// each plan the caller accepts, so later decisions see the resources
// earlier ones took. A Cluster is not safe for concurrent use.
type Cluster struct {
	cfg   Config
	nodes []*kernel.Node // sorted by name; index is the node's id
	ids   map[kernel.NodeName]int32

	// Per-node facts as flat arrays (struct of arrays): the hot loop reads
	// only these.
	lastSeen []int64 // unix nanoseconds, 0 if unknown
	ready    []bool
	arch     []uint16
	devices  []uint64 // bit per device kind
	bench    []int32
	memTotal []int64
	memAlloc []int64   // total less the system reserve
	memFree  []int64   // what a new task may take: min(memRes, memLive)
	memRes   []int64   // allocatable less what placed tasks reserve
	memLive  []int64   // measured free memory less what tasks not yet running reserve; -1 when not measured
	cpuCap   []float64 // reference cores offered
	cpuFree  []float64 // reference cores not yet used or reserved
	thermal  []float64 // temperature-headroom score, 0..1
	benchS   []float64 // benchmark score, 0..1
	loadS    []float64 // load score: share of CPU free, 0..1
	usedS    []float64 // share of allocatable memory reserved
	invAlloc []float64 // 1/allocatable memory, 0 when none
	site     []int32   // site id; 0 is "no site"

	archIDs     map[string]uint16
	archNodes   [][]int32   // arch id → node ids, ascending
	deviceNodes [64][]int32 // device bit → node ids, ascending
	deviceIDs   map[kernel.DeviceKind]uint
	siteNames   []string
	labels      map[label][]int32 // node ids carrying a label, ascending
	topics      []string          // distinct sensor topics
	topicIDs    map[string]int32
	topicIdx    *topicTrie
	topicNode   [][]int32 // topic id → node ids publishing it

	tree tree

	tasks  []taskRec
	byID   map[kernel.TaskID]int32
	onNode [][]int32 // node id → live task indexes
	deps   []depInfo
	depIDs map[string]int32

	nearCache map[string]*nearTargets
	statics   map[string]*staticSet
	noStatic  bool   // tests: always scan every node
	gen       uint64 // moves when a node's load, temperature or free memory improves
	scratch   scratch
}

// label is one key=value pair, as the label index keys it (no string is
// built to look one up).
type label struct{ k, v string }

// taskRec is one task as the scheduler accounts for it.
type taskRec struct {
	task    kernel.Task
	node    int32 // -1 when its node is not in the snapshot
	dep     int32
	mem     int64
	cpu     float64
	live    bool
	removed bool
}

// depInfo is what the cluster knows about one deployment.
type depInfo struct {
	name    string
	dep     *kernel.Deployment // nil when tasks name a deployment not in the snapshot
	demand  Demand
	samples []usageSample
	tasks   []int32 // live task indexes
}

// unknownPriority is the priority of tasks whose deployment is missing from
// the snapshot: above every valid priority, so they are never preempted.
const unknownPriority = 1 << 20

func (d *depInfo) priority() int {
	if d.dep == nil {
		return unknownPriority
	}
	return d.dep.Priority
}

// NewCluster indexes a snapshot. It fails on a bad configuration or on
// duplicate or empty node names; tasks on nodes missing from the snapshot
// are kept and treated as lost.
func NewCluster(snap *Snapshot, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	cfg = cfg.withDefaults()
	n := len(snap.Nodes)
	c := &Cluster{
		cfg:       cfg,
		nodes:     make([]*kernel.Node, n),
		ids:       make(map[kernel.NodeName]int32, n),
		archIDs:   map[string]uint16{},
		deviceIDs: map[kernel.DeviceKind]uint{},
		siteNames: []string{""},
		labels:    map[label][]int32{},
		topicIDs:  map[string]int32{},
		topicIdx:  newTopicTrie(),
		byID:      make(map[kernel.TaskID]int32, len(snap.Tasks)),
		depIDs:    make(map[string]int32, len(snap.Deployments)),
		nearCache: map[string]*nearTargets{},
		statics:   map[string]*staticSet{},
	}
	for i := range snap.Nodes {
		c.nodes[i] = &snap.Nodes[i]
	}
	slices.SortFunc(c.nodes, func(a, b *kernel.Node) int { return strings.Compare(string(a.Name), string(b.Name)) })
	for i, nd := range c.nodes {
		if nd.Name == "" {
			return nil, fmt.Errorf("snapshot: node %d has no name", i)
		}
		if _, dup := c.ids[nd.Name]; dup {
			return nil, fmt.Errorf("snapshot: duplicate node %q", nd.Name)
		}
		c.ids[nd.Name] = int32(i)
	}
	c.indexNodes()
	c.tree = buildTree(c.nodes, c.ids, cfg.DefaultLinkLatency)
	c.indexDeployments(snap)
	c.scratch.init(n, len(c.siteNames))
	return c, nil
}

func (c *Cluster) indexNodes() {
	n := len(c.nodes)
	c.lastSeen = make([]int64, n)
	c.ready = make([]bool, n)
	c.arch = make([]uint16, n)
	c.devices = make([]uint64, n)
	c.bench = make([]int32, n)
	c.memTotal = make([]int64, n)
	c.memAlloc = make([]int64, n)
	c.memFree = make([]int64, n)
	c.memRes = make([]int64, n)
	c.memLive = make([]int64, n)
	c.cpuCap = make([]float64, n)
	c.cpuFree = make([]float64, n)
	c.thermal = make([]float64, n)
	c.benchS = make([]float64, n)
	c.loadS = make([]float64, n)
	c.usedS = make([]float64, n)
	c.invAlloc = make([]float64, n)
	c.site = make([]int32, n)
	c.onNode = make([][]int32, n)
	siteIDs := map[string]int32{}
	for i, nd := range c.nodes {
		id := int32(i)
		if !nd.LastSeen.IsZero() {
			c.lastSeen[i] = nd.LastSeen.UnixNano()
		}
		c.ready[i] = nd.Health == kernel.HealthReady
		c.arch[i] = c.internArch(nd.Capability.Arch)
		c.archNodes[c.arch[i]] = append(c.archNodes[c.arch[i]], id)
		for _, d := range nd.Capability.Devices {
			c.devices[i] |= c.deviceBit(d.Kind)
		}
		for m, b := c.devices[i], 0; m != 0; m, b = m>>1, b+1 {
			if m&1 != 0 {
				c.deviceNodes[b] = append(c.deviceNodes[b], id)
			}
		}
		c.bench[i] = int32(max(nd.Capability.Score, 0))
		c.memTotal[i] = int64(nd.Capability.Memory)
		alloc := max(int64(nd.Capability.Memory-c.cfg.MemoryReserve), 0)
		c.memAlloc[i] = alloc
		c.memRes[i] = alloc
		c.memLive[i] = -1
		if lf := int64(nd.Capability.Live.MemoryFree); lf > 0 && !nd.Capability.Live.MeasuredAt.IsZero() {
			// What the node measured as free bounds what we may promise,
			// whatever the reservations say: other processes use memory
			// too. Running tasks are already in the measurement.
			c.memLive[i] = lf
		}
		score := int(c.bench[i])
		if score == 0 {
			score = c.cfg.UnscoredBenchmark
		}
		refCores := float64(max(nd.Capability.Cores, 1)) * float64(score) / 1000
		c.cpuCap[i] = refCores
		busy := 0.0
		if !nd.Capability.Live.MeasuredAt.IsZero() {
			busy = min(max(nd.Capability.Live.CPUPercent, 0), 100) / 100
		}
		c.cpuFree[i] = refCores * (1 - busy)
		c.thermal[i] = thermalScore(&nd.Capability.Live)
		c.benchS[i] = benchmarkScore(c.bench[i])
		if alloc > 0 {
			c.invAlloc[i] = 1 / float64(alloc)
		}
		if s := nd.Labels[c.cfg.SiteLabel]; s != "" {
			sid, ok := siteIDs[s]
			if !ok {
				sid = int32(len(c.siteNames))
				c.siteNames = append(c.siteNames, s)
				siteIDs[s] = sid
			}
			c.site[i] = sid
		}
		for k, v := range nd.Labels {
			c.labels[label{k, v}] = append(c.labels[label{k, v}], id)
		}
		for _, t := range nd.Capability.Sensors {
			tid, ok := c.topicIDs[t]
			if !ok {
				tid = int32(len(c.topics))
				c.topics = append(c.topics, t)
				c.topicNode = append(c.topicNode, nil)
				c.topicIDs[t] = tid
				c.topicIdx.insert(t, tid)
			}
			if l := c.topicNode[tid]; len(l) == 0 || l[len(l)-1] != id {
				c.topicNode[tid] = append(l, id)
			}
		}
	}
}

func (c *Cluster) internArch(a string) uint16 {
	id, ok := c.archIDs[a]
	if !ok {
		id = uint16(len(c.archIDs))
		c.archIDs[a] = id
		c.archNodes = append(c.archNodes, nil)
	}
	return id
}

// deviceBit returns the bit for a device kind. Kinds past the 63rd share the
// last bit, which only makes a requirement on them looser, never stricter
// than what the node has (the explanation rechecks precisely).
func (c *Cluster) deviceBit(k kernel.DeviceKind) uint64 {
	id, ok := c.deviceIDs[k]
	if !ok {
		id = min(uint(len(c.deviceIDs)), 63)
		c.deviceIDs[k] = id
	}
	return 1 << id
}

func (c *Cluster) indexDeployments(snap *Snapshot) {
	for i := range snap.Deployments {
		d := &snap.Deployments[i]
		if id, ok := c.depIDs[d.Name]; ok {
			c.deps[id].dep = d // the last one wins
			continue
		}
		c.depIDs[d.Name] = int32(len(c.deps))
		c.deps = append(c.deps, depInfo{name: d.Name, dep: d})
	}
	order := make([]int, len(snap.Tasks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(string(snap.Tasks[a].ID), string(snap.Tasks[b].ID)) })
	c.tasks = make([]taskRec, 0, len(snap.Tasks))
	for _, ti := range order {
		t := snap.Tasks[ti]
		if _, dup := c.byID[t.ID]; dup {
			continue
		}
		node, ok := c.ids[t.Node]
		if !ok {
			node = -1
		}
		r := taskRec{task: t, node: node, dep: c.depID(t.Deployment), live: live(t.State)}
		idx := int32(len(c.tasks))
		c.byID[t.ID] = idx
		c.tasks = append(c.tasks, r)
		if !r.live {
			continue
		}
		d := &c.deps[r.dep]
		d.tasks = append(d.tasks, idx)
		if measured(t.Usage) {
			score := 0
			if node >= 0 {
				score = int(c.bench[node])
			}
			d.samples = append(d.samples, usageSample{usage: t.Usage, score: score})
		}
	}
	for i := range c.deps {
		d := &c.deps[i]
		dep := d.dep
		if dep == nil {
			dep = &kernel.Deployment{}
		}
		d.demand = demandFor(dep, d.samples, &c.cfg)
	}
	for i := range c.tasks {
		r := &c.tasks[i]
		if !r.live {
			continue
		}
		dm := c.deps[r.dep].demand
		r.mem, r.cpu = int64(dm.Memory), dm.CPU
		if r.node < 0 {
			continue
		}
		c.onNode[r.node] = append(c.onNode[r.node], int32(i))
		c.memRes[r.node] -= r.mem
		if !inLiveStats(r.task.State) || c.nodes[r.node].Capability.Live.MeasuredAt.IsZero() {
			c.cpuFree[r.node] -= r.cpu
			if c.memLive[r.node] >= 0 {
				c.memLive[r.node] -= r.mem
			}
		}
	}
	for i := range c.nodes {
		c.refresh(int32(i))
	}
}

// refresh recomputes the cached scores of node i after its free resources
// changed.
func (c *Cluster) refresh(i int32) {
	c.memFree[i] = c.memRes[i]
	if c.memLive[i] >= 0 {
		c.memFree[i] = min(c.memRes[i], c.memLive[i])
	}
	if c.cpuCap[i] > 0 {
		c.loadS[i] = clamp01(c.cpuFree[i] / c.cpuCap[i])
	}
	c.usedS[i] = 1
	if c.memAlloc[i] > 0 {
		c.usedS[i] = clamp01(float64(c.memAlloc[i]-c.memFree[i]) * c.invAlloc[i])
	}
}

// depID returns the index of a deployment by name, adding an entry for
// names the snapshot's deployments do not list.
func (c *Cluster) depID(name string) int32 {
	if id, ok := c.depIDs[name]; ok {
		return id
	}
	id := int32(len(c.deps))
	c.depIDs[name] = id
	c.deps = append(c.deps, depInfo{name: name})
	return id
}

// Len is the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// Config is the configuration in effect, defaults filled.
func (c *Cluster) Config() Config { return c.cfg }

// Free reports the memory and reference CPU a node has left after every
// task placed on it so far, and whether the node exists.
func (c *Cluster) Free(name kernel.NodeName) (kernel.Bytes, float64, bool) {
	i, ok := c.ids[name]
	if !ok {
		return 0, 0, false
	}
	return kernel.Bytes(c.memFree[i]), c.cpuFree[i], true
}

// DemandOf is the demand the cluster would reserve for one instance of d:
// declared by its manifest, or learned from its measured replicas.
func (c *Cluster) DemandOf(d *kernel.Deployment) Demand {
	var samples []usageSample
	if id, ok := c.depIDs[d.Name]; ok {
		samples = c.deps[id].samples
	}
	return demandFor(d, samples, &c.cfg)
}
