package main

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/mesh"
)

// --join takes one address (as before), or several, repeated or
// comma-separated: the first is the primary.
func TestJoinFlagForms(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--join", "10.0.0.5:7443"}, []string{"10.0.0.5:7443"}},
		{[]string{"--join", "10.0.0.5:7443,10.0.0.6:7443"}, []string{"10.0.0.5:7443", "10.0.0.6:7443"}},
		{[]string{"--join", "10.0.0.5:7443", "--join", "gw-b:7443,[::1]:7443"}, []string{"10.0.0.5:7443", "gw-b:7443", "[::1]:7443"}},
	} {
		cmd := newAgentCmd()
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		raw, _ := cmd.Flags().GetStringSlice("join")
		got, err := parseJoins(raw)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, %v; want %v", c.args, got, err, c.want)
		}
	}
	for _, bad := range [][]string{{"10.0.0.5"}, {"10.0.0.5:7443", "10.0.0.5:7443"}, {""}} {
		if _, err := parseJoins(bad); err == nil || !strings.Contains(err.Error(), "--join") {
			t.Errorf("%q: got %v, want a --join error", bad, err)
		}
	}
}

// Bad agent flags are refused in one line before anything starts.
func TestAgentParentFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--join", "nope", "--data", dir}, `--join "nope": want HOST:PORT`},
		{[]string{"agent", "--join", "a:1,a:1", "--data", dir}, `--join "a:1" given twice`},
		{[]string{"agent", "--join", "a:1", "--advertise", "10.0.0.1", "--data", dir}, "--advertise is for gateways"},
		{[]string{"agent", "--gateway", "--join", "a:1", "--advertise", "10.0.0.1:99999", "--data", dir}, "--advertise"},
		{[]string{"agent", "--join", "a:1", "--blob-cache", "lots", "--data", dir}, `--blob-cache "lots": want a size`},
		{[]string{"agent", "--join", "a:1", "--blob-cache", "-1GiB", "--data", dir}, `--blob-cache "-1GiB"`},
	} {
		_, err := runCLI(t, c.args...)
		wantErr(t, err, 2, c.want)
	}
}

// The learned alternates are saved and come back as the mesh's start
// alternates after the configured parents.
func TestLearnedAlternatesSaved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	st := agentState{Join: "10.0.0.5:7443", Alternates: []string{"10.0.0.6:7443"}}
	if err := writeAgentState(path, st); err != nil {
		t.Fatal(err)
	}
	s := &stateSaver{path: path, st: st, log: slog.New(slog.DiscardHandler)}
	s.learned([]mesh.Parent{{Name: "gw-2", Addr: "10.0.0.7:7443"}, {Name: "ctl", Addr: "10.0.0.1:7443"}})
	got, err := loadAgentState(path)
	if err != nil {
		t.Fatal(err)
	}
	parents, learned := meshParents(got.Join, got.Alternates, got)
	if want := []mesh.Parent{{Addr: "10.0.0.5:7443"}, {Addr: "10.0.0.6:7443"}}; !slices.Equal(parents, want) {
		t.Errorf("parents %v, want %v", parents, want)
	}
	if want := []mesh.Parent{{Name: "gw-2", Addr: "10.0.0.7:7443"}, {Name: "ctl", Addr: "10.0.0.1:7443"}}; !slices.Equal(learned, want) {
		t.Errorf("learned %v, want %v", learned, want)
	}
	// A damaged entry is skipped, not fatal.
	got.Learned = append(got.Learned, agentParent{Name: "Bad Name", Addr: "x:1"}, agentParent{Name: "gw-9"})
	if _, learned := meshParents(got.Join, nil, got); len(learned) != 2 {
		t.Errorf("damaged entries kept: %v", learned)
	}
}

// A gateway advertises --advertise, else on a listen address without a
// host the address toward its parent (the mesh adds the bound port),
// else its bound address.
func TestGatewayAdvertise(t *testing.T) {
	for _, c := range []struct{ flag, listen, parent, want string }{
		{"gw.example:7000", ":7443", "127.0.0.1:7443", "gw.example:7000"},
		{"", ":7443", "127.0.0.1:7443", "127.0.0.1"},
		{"", "0.0.0.0:7443", "127.0.0.1:7443", "127.0.0.1"},
		{"", "[::]:7443", "127.0.0.1:7443", "127.0.0.1"},
		{"", "127.0.0.1:0", "127.0.0.1:7443", ""},
	} {
		if got := gatewayAdvertise(c.flag, c.listen, c.parent); got != c.want {
			t.Errorf("gatewayAdvertise(%q, %q, %q) = %q, want %q", c.flag, c.listen, c.parent, got, c.want)
		}
	}
	if ip := gatewayAdvertise("", ":7443", "192.0.2.1:7443"); ip == "" || ip == "<nil>" {
		t.Errorf("toward a remote parent: %q", ip)
	}
}
