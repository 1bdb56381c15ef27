package sched

import (
	"slices"

	"github.com/canopy-fleet/canopy/kernel"
)

// Reason is the filter that rejected a node, or Eligible.
type Reason uint8

// Reasons, in the order the filters run: the first that fails is the one
// reported.
const (
	Eligible          Reason = iota // passed every filter
	RejectHealth                    // not ready: down, drained, or not seen for Config.StaleAfter
	RejectLabels                    // selector.labels do not match
	RejectArch                      // selector.arch does not include the node's arch
	RejectDevices                   // a device in requires.devices is not attached
	RejectSensors                   // no sensor publishes a topic in requires.sensors
	RejectScore                     // benchmark score below requires.score
	RejectLatency                   // latency to the near target above near.maxLatency
	RejectMemoryTotal               // the node has less memory in total than the task needs
	RejectMemory                    // not enough memory left after the tasks already placed
	RejectCPU                       // not enough CPU left after the tasks already placed
	numReasons
)

var filterNames = [numReasons]string{
	Eligible:          "",
	RejectHealth:      "health",
	RejectLabels:      "selector.labels",
	RejectArch:        "selector.arch",
	RejectDevices:     "requires.devices",
	RejectSensors:     "requires.sensors",
	RejectScore:       "requires.score",
	RejectLatency:     "near.maxLatency",
	RejectMemoryTotal: "requires.memory",
	RejectMemory:      "resources.memory",
	RejectCPU:         "resources.cpu",
}

// Filter is the name of the filter, as explanations show it ("" for
// Eligible).
func (r Reason) Filter() string {
	if r >= numReasons {
		return "unknown"
	}
	return filterNames[r]
}

// resources reports whether r is a lack of room that preemption can fix.
func (r Reason) resources() bool { return r == RejectMemory || r == RejectCPU }

// query is a request compiled against a cluster: every filter reduced to a
// bit test or a comparison on the cluster's per-node arrays.
type query struct {
	dep      *kernel.Deployment
	version  int
	policy   Policy
	now      int64
	stale    int64
	labels   bitset // nil when the selector names no labels
	archOK   []bool // by arch id; nil when any arch will do
	devMask  uint64
	devNone  bool // a required device kind no node has
	devExact bool // a required kind shares the overflow bit; check exactly
	sensors  bitset
	minScore int32
	needMem  int64 // memory the node must have left
	demand   Demand
	near     *nearTargets // nil without a near target
	maxLat   int64
	w        normWeights
	memF     float64   // demand.Memory as a float
	latS     []float64 // near.latS, for full scans
	// dist is every node's latency to the near target; with sparse set only
	// the entries of drive and of nodes holding a replica are computed.
	dist    []int64
	sparse  bool
	scale   int64 // Config.LatencyScale
	binpack bool
	// drive lists the only nodes that can pass the filters, when an index
	// narrows them down to under half the fleet; nil means every node.
	drive []int32
}

// reasons runs the filters on every node. Nodes holding a replica are
// judged without the resource filters, as Place judges them.
func (c *Cluster) reasons(q *query) []Reason {
	c.fullDistances(q)
	out := make([]Reason, len(c.nodes))
	for i := range int32(len(c.nodes)) {
		out[i] = c.filter(q, i, !c.scratch.replica.has(i))
	}
	return out
}

// fullDistances makes q.dist valid for every node.
func (c *Cluster) fullDistances(q *query) {
	if q.sparse {
		q.dist, q.sparse = q.near.full(&c.tree), false
	}
}

// narrow offers an index list of the only nodes that can pass; the
// shortest offered drives the hot loop.
func (q *query) narrow(l []int32, n int) {
	if len(l) <= n/2 && (q.drive == nil || len(l) < len(q.drive)) {
		q.drive = l
		if l == nil {
			q.drive = []int32{}
		}
	}
}

func (c *Cluster) compile(req *Request, policy Policy) *query {
	d := &req.Deployment
	s := &c.scratch
	q := &query{
		dep:      d,
		version:  req.Version,
		policy:   policy,
		now:      req.Now.UnixNano(),
		stale:    int64(c.cfg.StaleAfter),
		minScore: int32(d.Requires.Score),
		demand:   c.DemandOf(d),
	}
	if req.Now.IsZero() {
		q.now = 0
	}
	q.needMem = max(int64(d.Requires.Memory), int64(q.demand.Memory))
	n := len(c.nodes)
	if len(d.Selector.Labels) > 0 {
		q.labels = s.labels
		q.narrow(c.matchLabels(d.Selector.Labels, q.labels), n)
	}
	if len(d.Selector.Arch) > 0 {
		q.archOK = make([]bool, len(c.archIDs))
		for _, a := range d.Selector.Arch {
			if id, ok := c.archIDs[a]; ok {
				q.archOK[id] = true
			}
		}
		if len(d.Selector.Arch) == 1 {
			id, ok := c.archIDs[d.Selector.Arch[0]]
			if !ok {
				q.narrow(nil, n)
			} else {
				q.narrow(c.archNodes[id], n)
			}
		}
	}
	for _, k := range d.Requires.Devices {
		id, ok := c.deviceIDs[k]
		switch {
		case !ok:
			q.devNone = true
			q.narrow(nil, n)
		case id == 63:
			q.devExact = true
		default:
			q.devMask |= 1 << id
			q.narrow(c.deviceNodes[id], n)
		}
	}
	if len(d.Requires.Sensors) > 0 {
		q.sensors = s.sensors
		q.sensors.clear()
		for i, f := range d.Requires.Sensors {
			one := q.sensors
			if i > 0 {
				one = s.one
				one.clear()
			}
			pubs := c.publishers(f)
			for _, id := range pubs {
				one.set(id)
			}
			q.narrow(pubs, n)
			if i > 0 {
				q.sensors.and(one)
			}
		}
	}
	if d.Near != nil {
		q.near = c.near(d.Near)
		q.maxLat = int64(d.Near.MaxLatency)
	}
	if q.near != nil {
		q.near.uses++
		if q.near.dist == nil && q.near.uses < 2 && q.drive != nil && len(q.drive) < n/8 {
			// Few nodes can pass and the target is new: compute their
			// latencies only. A target used again gets every node's,
			// computed once and kept.
			q.dist, q.sparse = c.sparseDistances(q.near.targets, q.drive), true
		} else {
			q.dist = q.near.full(&c.tree)
		}
	}
	q.w = c.cfg.Weights.normalize(q.near != nil && len(q.near.targets) > 0)
	q.memF = float64(q.demand.Memory)
	q.binpack = policy == PolicyBinpack
	if q.w.lat > 0 {
		q.scale = int64(c.cfg.LatencyScale)
		if q.drive == nil {
			// A full scan scores most nodes: precompute once per target.
			q.latS = q.near.scores(&c.tree, q.scale)
		}
	}
	return q
}

// matchLabels sets in b the nodes carrying every label in sel, by
// intersecting the label index's sorted lists, rarest first, and returns
// them.
func (c *Cluster) matchLabels(sel map[string]string, b bitset) []int32 {
	b.clear()
	lists := make([][]int32, 0, len(sel))
	for k, v := range sel {
		l := c.labels[label{k, v}]
		if len(l) == 0 {
			return nil
		}
		lists = append(lists, l)
	}
	slices.SortFunc(lists, func(x, y []int32) int { return len(x) - len(y) })
	cur := lists[0]
	if len(lists) > 1 {
		cur = slices.Clone(cur)
		for _, l := range lists[1:] {
			cur = intersect(cur, l)
		}
	}
	for _, id := range cur {
		b.set(id)
	}
	return cur
}

// intersect keeps the members of a (sorted) that are in b (sorted), in
// place.
func intersect(a, b []int32) []int32 {
	out := a[:0]
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			out = append(out, x)
		}
	}
	return out
}

// filter runs the filters on node i in order and returns the first that
// fails. With resources false it stops before the memory and CPU filters:
// that is how a node already holding a replica is judged.
func (c *Cluster) filter(q *query, i int32, resources bool) Reason {
	if !c.ready[i] || (q.now != 0 && c.lastSeen[i] != 0 && q.now-c.lastSeen[i] > q.stale) {
		return RejectHealth
	}
	if q.labels != nil && !q.labels.has(i) {
		return RejectLabels
	}
	if q.archOK != nil && (int(c.arch[i]) >= len(q.archOK) || !q.archOK[c.arch[i]]) {
		return RejectArch
	}
	if q.devNone || c.devices[i]&q.devMask != q.devMask || (q.devExact && !c.hasDevices(i, q.dep.Requires.Devices)) {
		return RejectDevices
	}
	if q.sensors != nil && !q.sensors.has(i) {
		return RejectSensors
	}
	if c.bench[i] < q.minScore {
		return RejectScore
	}
	if q.maxLat > 0 && q.dist[i] > q.maxLat {
		return RejectLatency
	}
	if c.memAlloc[i] < q.needMem {
		return RejectMemoryTotal
	}
	if !resources {
		return Eligible
	}
	if c.memFree[i] < q.needMem {
		return RejectMemory
	}
	if c.cpuFree[i] < q.demand.CPU {
		return RejectCPU
	}
	return Eligible
}

func (c *Cluster) hasDevices(i int32, kinds []kernel.DeviceKind) bool {
	for _, k := range kinds {
		if !c.nodes[i].Capability.HasDevice(k) {
			return false
		}
	}
	return true
}
