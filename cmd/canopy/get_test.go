package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/canopy-fleet/canopy/kernel/api"
)

// TestGetNodes runs a controller and an agent and lists them with
// `canopy get nodes` as a table, JSON and YAML, and checks its refusals.
func TestGetNodes(t *testing.T) {
	checkNoLeaks(t) // registered first, so it runs after every command has stopped
	dir := startTestController(t)
	tok := createToken(t, "--role", "agent")
	startProc(t, "leaf-1", agentArgs(t, tok, "--name", "leaf-1", "--data", filepath.Join(dir, "leaf-1"), "--labels", "site=plant-1,zone=b")...)
	nodeIs(t, "leaf-1", "leaf", "ctl", api.StateLinked)
	// Its measurements reach the API: the round trip to its parent, and
	// the controller's to it.
	eventually(t, "leaf-1's latency report listed", func() error {
		nodes := listNodes(t)
		if nodes["leaf-1"].LatencyMillis["ctl"] <= 0 || nodes["ctl"].LatencyMillis["leaf-1"] <= 0 {
			return fmt.Errorf("latency: leaf-1 %v, ctl %v", nodes["leaf-1"].LatencyMillis, nodes["ctl"].LatencyMillis)
		}
		return nil
	})

	t.Run("describe", func(t *testing.T) {
		out, err := runCLI(t, "describe", "node", "leaf-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Name:", "leaf-1", "Parent:", "ctl", "site=plant-1,zone=b", "Round trips:", "parent"} {
			if !strings.Contains(out, want) {
				t.Fatalf("describe node printed no %q:\n%s", want, out)
			}
		}
		out, err = runCLI(t, "describe", "node", "leaf-1", "-o", "json")
		var n api.Node
		if err != nil || json.Unmarshal([]byte(out), &n) != nil || n.Name != "leaf-1" || n.LatencyMillis["ctl"] <= 0 {
			t.Fatalf("describe -o json: %v\n%s", err, out)
		}
		_, err = runCLI(t, "describe", "node", "pi-404")
		wantErr(t, err, 1, `no node "pi-404"`)
		_, err = runCLI(t, "describe", "pods", "x")
		wantErr(t, err, 2, "unknown resource")
	})

	t.Run("table", func(t *testing.T) {
		out, err := runCLI(t, "get", "nodes")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME ROLE PARENT STATE RTT VERSION LAST-SEEN LABELS" {
			t.Fatalf("header %q", lines[0])
		}
		rows := map[string][]string{}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) != 8 {
				t.Fatalf("row %q has %d columns, want 8:\n%s", l, len(f), out)
			}
			rows[f[0]] = f
		}
		if len(rows) != 2 {
			t.Fatalf("want the controller and leaf-1:\n%s", out)
		}
		for name, want := range map[string][]string{
			"ctl":    {"ctl", "controller", "<none>", "linked", "<none>", version, "", "<none>"},
			"leaf-1": {"leaf-1", "leaf", "ctl", "linked", "", version, "", "site=plant-1,zone=b"},
		} {
			got := rows[name]
			for i, w := range want {
				if w != "" && got[i] != w {
					t.Errorf("%s column %d = %q, want %q:\n%s", name, i, got[i], w, out)
				}
			}
			if !strings.HasSuffix(got[6], "s") { // a few seconds ago
				t.Errorf("%s last seen %q:\n%s", name, got[6], out)
			}
		}
		if rtt := rows["leaf-1"][4]; rtt != "<none>" && !strings.HasSuffix(rtt, "ms") {
			t.Errorf("leaf-1 RTT %q", rtt)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, err := runCLI(t, "get", "nodes", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var list api.NodeList
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("get nodes -o json printed %q: %v", out, err)
		}
		byName := map[string]api.Node{}
		for _, n := range list.Nodes {
			byName[n.Name] = n
		}
		leaf := byName["leaf-1"]
		if len(list.Nodes) != 2 || byName["ctl"].Role != "controller" || byName["ctl"].Addr == "" ||
			leaf.Parent != "ctl" || leaf.State != api.StateLinked || leaf.Labels["zone"] != "b" ||
			leaf.Version != version || leaf.LastSeen.IsZero() {
			t.Fatalf("get nodes -o json: %+v", list)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		out, err := runCLI(t, "get", "node", "-o", "yaml")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Nodes []struct {
				Name, Role, Parent, State, Version string
				Labels                             map[string]string
				LastSeen                           time.Time `yaml:"lastSeen"`
			}
		}
		if err := yaml.Unmarshal([]byte(out), &doc); err != nil || strings.Contains(out, "{") {
			t.Fatalf("get nodes -o yaml printed %q: %v", out, err)
		}
		if len(doc.Nodes) != 2 || doc.Nodes[1].Name != "leaf-1" || doc.Nodes[1].Labels["site"] != "plant-1" ||
			doc.Nodes[1].Parent != "ctl" || doc.Nodes[1].LastSeen.IsZero() {
			t.Fatalf("get nodes -o yaml: %+v\n%s", doc, out)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		_, err := runCLI(t, "get", "nodes", "-o", "xml")
		wantErr(t, err, 2, `-o "xml": want table, json or yaml`)
		_, err = runCLI(t, "get", "tasks")
		wantErr(t, err, 2, `unknown resource "tasks": want nodes`)
		_, err = runCLI(t, "get")
		wantErr(t, err, 2, "want nodes")
		_, err = runCLI(t, "get", "nodes", "--token", "wrong.token")
		wantErr(t, err, 1, "token not accepted")
	})
}

func TestHumanDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {0, "0s"}, {1400 * time.Millisecond, "1s"}, {119 * time.Second, "119s"},
		{2 * time.Minute, "2m"}, {5*time.Minute + 10*time.Second, "5m10s"}, {42 * time.Minute, "42m"},
		{3 * time.Hour, "3h"}, {5*time.Hour + 7*time.Minute, "5h7m"}, {30 * time.Hour, "30h"},
		{3*24*time.Hour + 4*time.Hour, "3d4h"}, {40 * 24 * time.Hour, "40d"}, {(3*365 + 2) * 24 * time.Hour, "3y2d"},
		{9 * 365 * 24 * time.Hour, "9y"},
	} {
		if got := humanDuration(c.d); got != c.want {
			t.Errorf("humanDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
