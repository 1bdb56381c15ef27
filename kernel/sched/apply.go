package sched

import (
	"fmt"

	"github.com/canopy-fleet/canopy/kernel"
)

// Apply accounts for a plan the caller accepted: stopped tasks free their
// resources, placed ones reserve theirs (as pending tasks), so the next
// decision sees them. It fails, changing nothing, if the plan places on a
// node the cluster does not know or reuses a live task ID. A plan decoded
// from JSON no longer carries its manifest: the tasks it places count as
// unpreemptible until the next snapshot lists their deployment.
func (c *Cluster) Apply(p *Plan) error {
	for _, pl := range p.Place {
		if err := c.checkPlace(pl); err != nil {
			return err
		}
	}
	for _, m := range p.Move {
		if err := c.checkPlace(m.To); err != nil {
			return err
		}
	}
	if p.dep != nil {
		id := c.depID(p.Deployment)
		dep := *p.dep
		c.deps[id].dep = &dep
	}
	for _, s := range p.Stop {
		c.remove(s.Task)
	}
	for _, m := range p.Move {
		c.remove(m.Task)
		c.add(m.To, p.Demand)
	}
	for _, pl := range p.Place {
		c.add(pl, p.Demand)
	}
	return nil
}

func (c *Cluster) checkPlace(pl kernel.Placement) error {
	if _, ok := c.ids[pl.Node]; !ok {
		return fmt.Errorf("apply: unknown node %q", pl.Node)
	}
	if ti, ok := c.byID[pl.Task]; ok && c.tasks[ti].live {
		return fmt.Errorf("apply: task %q is already placed", pl.Task)
	}
	return nil
}

// remove ends a live task, freeing what it reserved.
func (c *Cluster) remove(id kernel.TaskID) {
	ti, ok := c.byID[id]
	if !ok || !c.tasks[ti].live {
		return
	}
	t := &c.tasks[ti]
	t.live = false
	t.task.State = kernel.TaskStopped
	d := &c.deps[t.dep]
	d.tasks = deleteValue(d.tasks, ti)
	if t.node < 0 {
		return
	}
	c.onNode[t.node] = deleteValue(c.onNode[t.node], ti)
	c.memRes[t.node] += t.mem
	if c.memLive[t.node] >= 0 {
		// A running task gives back what it was measured to hold; one not
		// yet running, what it reserved.
		c.memLive[t.node] += c.freedLive(ti)
	}
	c.cpuFree[t.node] += t.cpu
	c.refresh(t.node)
	c.gen++ // score bounds of static sets may no longer hold
}

// add records a new pending task reserving demand.
func (c *Cluster) add(pl kernel.Placement, dm Demand) {
	node := c.ids[pl.Node]
	r := taskRec{
		task: kernel.Task{ID: pl.Task, Deployment: pl.Deployment, Version: pl.Version, Node: pl.Node, State: kernel.TaskPending},
		node: node,
		dep:  c.depID(pl.Deployment),
		mem:  int64(dm.Memory),
		cpu:  dm.CPU,
		live: true,
	}
	ti := int32(len(c.tasks))
	c.tasks = append(c.tasks, r)
	c.byID[pl.Task] = ti
	c.deps[r.dep].tasks = append(c.deps[r.dep].tasks, ti)
	c.onNode[node] = append(c.onNode[node], ti)
	c.memRes[node] -= r.mem
	if c.memLive[node] >= 0 {
		c.memLive[node] -= r.mem
	}
	c.cpuFree[node] -= r.cpu
	c.refresh(node)
}

// freedLive is what stopping task ti gives back to its node's measured free
// memory: a running task what it was measured to hold, one not yet running
// what it reserved. It is never more than its reservation, so a node's
// free memory (the smaller of reservations left and measured free) grows
// by at least this much.
func (c *Cluster) freedLive(ti int32) int64 {
	t := &c.tasks[ti]
	if inLiveStats(t.task.State) && t.task.Usage.MemoryPeak > 0 {
		return min(int64(t.task.Usage.MemoryPeak), t.mem)
	}
	return t.mem
}

func deleteValue(s []int32, v int32) []int32 {
	for i, x := range s {
		if x == v {
			s[i] = s[len(s)-1]
			return s[:len(s)-1]
		}
	}
	return s
}
