package api

import (
	"context"
	"net/http"
	"sort"
	"time"
)

// Node states.
const (
	StateLinked = "linked" // the controller has a route to it
	StateLost   = "lost"   // known, but not reachable now
)

// Node is one entry of GET /api/v1/nodes.
type Node struct {
	Name   string `json:"name"`
	Role   string `json:"role"`             // controller, gateway or leaf
	Parent string `json:"parent,omitempty"` // the node it links to; empty for the controller
	State  string `json:"state"`            // linked or lost
	// RTTMillis is the round trip to its parent as last measured, in
	// milliseconds; 0 when not measured.
	RTTMillis float64 `json:"rttMs,omitempty"`
	// LatencyMillis is every round trip the node last reported, in
	// milliseconds, by the node measured: its parent, its children, and
	// the siblings and alternate parents it probes. The controller
	// places work by these.
	LatencyMillis map[string]float64 `json:"latencyMs,omitempty"`
	// Addr is where it accepts children (gateways and controllers).
	Addr     string            `json:"addr,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Version  string            `json:"version,omitempty"` // canopy version it runs, as it reported
	LastSeen time.Time         `json:"lastSeen,omitzero"`
}

// NodeLister lists the nodes the controller knows. The handler calls it
// from the request's goroutine; it must not block on the network.
type NodeLister interface {
	Nodes(ctx context.Context) ([]Node, error)
}

// NodeDeleter removes a node from the cluster: it revokes every
// certificate issued to the node, drops its links and forgets it, so the
// device can join again only with a new join token. The handler calls it
// from the request's goroutine; it returns an *Error with status 404 for
// an unknown node and 400 for one that cannot be deleted (the controller).
type NodeDeleter interface {
	DeleteNode(ctx context.Context, name string) (NodeDeletion, error)
}

// NodeDeletion is the answer of DELETE /api/v1/nodes/{name}.
type NodeDeletion struct {
	Name string `json:"name"`
	// RevokedCertificates are the serial numbers (hex) of the node's
	// certificates revoked by the deletion.
	RevokedCertificates []string `json:"revokedCertificates"`
}

// NodeList is the body of GET /api/v1/nodes.
type NodeList struct {
	Nodes []Node `json:"nodes"`
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request, _ Role) error {
	if s.cfg.Nodes == nil {
		return Errorf(http.StatusNotImplemented, "", "this server does not list nodes")
	}
	nodes, err := s.cfg.Nodes.Nodes(r.Context())
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []Node{}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	writeJSON(w, http.StatusOK, NodeList{Nodes: nodes})
	return nil
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request, _ Role) error {
	if s.cfg.Nodes == nil {
		return Errorf(http.StatusNotImplemented, "", "this server does not list nodes")
	}
	name := r.PathValue("name")
	nodes, err := s.cfg.Nodes.Nodes(r.Context())
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Name == name {
			writeJSON(w, http.StatusOK, n)
			return nil
		}
	}
	return Errorf(http.StatusNotFound, "name", "no node %q", name)
}

func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request, _ Role) error {
	if s.cfg.NodeDeleter == nil {
		return Errorf(http.StatusNotImplemented, "", "this server does not delete nodes")
	}
	d, err := s.cfg.NodeDeleter.DeleteNode(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if d.RevokedCertificates == nil {
		d.RevokedCertificates = []string{}
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}
