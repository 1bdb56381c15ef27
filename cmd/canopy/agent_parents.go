package main

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
)

// An agent's parents: --join names the primary first and, after it, any
// alternates given by hand (repeated or comma-separated). The tree tells
// the node more alternates (its gateway's siblings and the gateway's
// parent, mesh/alternates.go); they are saved in agent.json, so after a
// restart while its gateway is down the node still finds one.

// agentParent is a learned alternate as agent.json keeps it.
type agentParent struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// parseJoins checks --join values: each HOST:PORT, none twice.
func parseJoins(in []string) ([]string, error) {
	var out []string
	for _, j := range in {
		if _, _, err := net.SplitHostPort(j); err != nil || j == "" {
			return nil, usageError{fmt.Errorf("--join %q: want HOST:PORT (repeat --join, or separate with commas, for alternates)", j)}
		}
		if slices.Contains(out, j) {
			return nil, usageError{fmt.Errorf("--join %q given twice", j)}
		}
		out = append(out, j)
	}
	return out, nil
}

// meshParents are the parents to dial (the primary, then the hand-given
// alternates) and the learned alternates saved in st.
func meshParents(primary string, byHand []string, st agentState) (parents, learned []mesh.Parent) {
	parents = append(parents, mesh.Parent{Addr: primary})
	for _, a := range byHand {
		parents = append(parents, mesh.Parent{Addr: a})
	}
	for _, p := range st.Learned {
		if p.Addr == "" || !kernel.ValidName(p.Name) {
			continue // a damaged entry: the parent sends a new list anyway
		}
		learned = append(learned, mesh.Parent{Addr: p.Addr, Name: kernel.NodeName(p.Name)})
	}
	return parents, learned
}

// stateSaver writes agent.json when the learned alternates change.
type stateSaver struct {
	mu   sync.Mutex
	path string
	st   agentState
	log  *slog.Logger
}

// learned saves ps as the learned alternates (mesh.Config.OnAlternates).
func (s *stateSaver) learned(ps []mesh.Parent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make([]agentParent, 0, len(ps))
	for _, p := range ps {
		next = append(next, agentParent{Name: string(p.Name), Addr: p.Addr})
	}
	if slices.Equal(next, s.st.Learned) {
		return
	}
	s.st.Learned = next
	if err := writeAgentState(s.path, s.st); err != nil {
		s.log.Error("alternate parents not saved", "err", err)
		return
	}
	s.log.Info("alternate parents learned", "alternates", next)
}

// gatewayAdvertise is the address a gateway gives its parent for its
// siblings and failing-over children to dial (mesh.Config.Advertise):
// --advertise when given; else, when --listen has no host (or 0.0.0.0,
// ::), the address of the interface it reaches its primary parent by,
// the port being the bound one; else "" (the bound address).
func gatewayAdvertise(flag, listen, parent string) string {
	if flag != "" {
		return flag
	}
	host, _, err := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); err == nil && (host == "" || (ip != nil && ip.IsUnspecified())) {
		return outboundIPTo(parent).String()
	}
	return ""
}
