package sched

import (
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
	if len(d.Selector.Labels) > 0 {
		q.labels = s.labels
		c.matchLabels(d.Selector.Labels, q.labels)
	}
	if len(d.Selector.Arch) > 0 {
		q.archOK = make([]bool, len(c.archIDs))
		for _, a := range d.Selector.Arch {
			if id, ok := c.archIDs[a]; ok {
				q.archOK[id] = true
			}
		}
	}
	for _, k := range d.Requires.Devices {
		id, ok := c.deviceIDs[k]
		switch {
		case !ok:
			q.devNone = true
		case id == 63:
			q.devExact = true
		default:
			q.devMask |= 1 << id
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
			for _, id := range c.publishers(f) {
				one.set(id)
			}
			if i > 0 {
				q.sensors.and(one)
			}
		}
	}
	if d.Near != nil {
		q.near = c.near(d.Near)
		q.maxLat = int64(d.Near.MaxLatency)
	}
	q.w = c.cfg.Weights.normalize(q.near != nil && len(q.near.targets) > 0)
	return q
}

// matchLabels sets in b the nodes carrying every label in sel, starting from
// the rarest label's index.
func (c *Cluster) matchLabels(sel map[string]string, b bitset) {
	b.clear()
	var rarest []int32
	first := true
	for k, v := range sel {
		l := c.labels[k+"="+v]
		if first || len(l) < len(rarest) {
			rarest, first = l, false
		}
	}
	for _, id := range rarest {
		nd := c.nodes[id]
		ok := true
		for k, v := range sel {
			if got, has := nd.Labels[k]; !has || got != v {
				ok = false
				break
			}
		}
		if ok {
			b.set(id)
		}
	}
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
	if q.maxLat > 0 && q.near.dist[i] > q.maxLat {
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
