package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// Messages cmd/canopy's roles exchange over the mesh, beside the mesh's own.
const (
	// kindStatus is a node's periodic account of itself to the
	// controller: its parent, listen address and labels.
	kindStatus = "canopy.status"
)

// statusInterval is how often an agent reports its status.
const statusInterval = 5 * time.Second

// nodeStatus is the body of kindStatus.
type nodeStatus struct {
	Parent  kernel.NodeName
	Addr    string            `cbor:",omitempty"`
	Labels  map[string]string `cbor:",omitempty"`
	Version string            `cbor:",omitempty"`
}

// Bounds of a status a node reports.
const (
	maxLabels     = 64
	maxLabelKey   = 63
	maxLabelValue = 253
)

// decodeStatus parses and checks a kindStatus body from the network.
func decodeStatus(b []byte) (nodeStatus, error) {
	var st nodeStatus
	if err := frame.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	if st.Parent != "" && !kernel.ValidName(string(st.Parent)) {
		return st, fmt.Errorf("status: parent %q is not a node name", st.Parent)
	}
	if len(st.Addr) > 300 || len(st.Version) > 100 {
		return st, errors.New("status: address or version too long")
	}
	if !printableWord(st.Addr) || !printableWord(st.Version) {
		return st, fmt.Errorf("status: address %.70q or version %.70q holds spaces or control characters", st.Addr, st.Version)
	}
	if len(st.Labels) > maxLabels {
		return st, fmt.Errorf("status: %d labels, at most %d", len(st.Labels), maxLabels)
	}
	for k, v := range st.Labels {
		if k == "" || len(k) > maxLabelKey || len(v) > maxLabelValue {
			return st, fmt.Errorf("status: label %.70q: key 1-%d bytes, value at most %d", k, maxLabelKey, maxLabelValue)
		}
		if !validLabel(k, v) {
			return st, fmt.Errorf("status: label %.70q=%.70q: no spaces, quotes, commas or control characters, and no = in the key", k, v)
		}
	}
	return st, nil
}

// printableWord reports whether s is valid UTF-8 with no spaces and no
// control characters: text shown in a table cell of 'canopy get nodes'
// that cannot move the terminal's cursor or break the table.
func printableWord(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// validLabel reports whether k=v is a label --labels can say and 'canopy
// get nodes' can show: printable words, no quotes or commas, no = in k.
func validLabel(k, v string) bool {
	return printableWord(k) && printableWord(v) && !strings.ContainsAny(k+v, "\"',") && !strings.Contains(k, "=")
}

// reportStatus sends st (with the current parent) to the controller every
// statusInterval and whenever the parent link comes up, until ctx ends.
func reportStatus(ctx context.Context, n *mesh.Node, st nodeStatus, up <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		if err := n.WaitParent(ctx); err != nil {
			return
		}
		st.Parent = n.Parent()
		if b, err := frame.Marshal(st); err == nil {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := n.Send(sctx, "", kindStatus, b); err != nil {
				log.Debug("status not sent", "err", err)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-up:
		}
	}
}
