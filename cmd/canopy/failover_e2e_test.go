package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel/api"
)

// Failover as an operator sees it, through the CLI on a real fleet on
// loopback: leaves joined under gw-1 with that one address learn gw-2 (a
// gateway started with the default kind of --listen, no host, so it
// advertises the address toward its parent) from the tree and save it;
// when gw-1's process is killed (SIGKILL: no goodbye, the leaves notice
// its silence) they come back linked under gw-2; a leaf restarted while
// gw-1 is still gone goes straight back there.
func TestFailoverThroughCLI(t *testing.T) {
	checkNoLeaks(t)
	dir := startTestController(t)
	gw1Tok := createToken(t, "--role", "gateway")
	gw1 := canopyProcess(t, &syncBuffer{}, agentArgs(t, gw1Tok, "--listen", "127.0.0.1:0", "--name", "gw-1", "--data", filepath.Join(dir, "gw-1"))...)
	g1 := nodeIs(t, "gw-1", "gateway", "ctl", api.StateLinked)
	gw2Tok := createToken(t, "--role", "gateway")
	startProc(t, "gw-2", agentArgs(t, gw2Tok, "--listen", ":0", "--name", "gw-2", "--data", filepath.Join(dir, "gw-2"))...)
	g2 := nodeIs(t, "gw-2", "gateway", "ctl", api.StateLinked)
	if !strings.HasPrefix(g2.Addr, "127.0.0.1:") {
		t.Fatalf("gw-2 on --listen :0 reported address %q, want the loopback address it reaches the controller by", g2.Addr)
	}
	leaves := []string{"leaf-1", "leaf-2", "leaf-3"}
	procs := map[string]*proc{}
	for _, name := range leaves {
		tok := createToken(t, "--role", "agent")
		procs[name] = startProc(t, name, "agent", "--join", g1.Addr, "--token", tok.Token, "--ca-hash", tok.Join.CAHash, "--name", name, "--data", filepath.Join(dir, name))
	}
	for _, name := range leaves {
		nodeIs(t, name, "leaf", "gw-1", api.StateLinked)
	}
	eventually(t, "gw-2 saved by leaf-1 as an alternate parent", func() error {
		st, err := loadAgentState(filepath.Join(dir, "leaf-1", "agent.json"))
		if err == nil && !slices.Contains(st.Learned, agentParent{Name: "gw-2", Addr: g2.Addr}) {
			err = fmt.Errorf("learned %+v", st.Learned)
		}
		return err
	})

	if err := gw1.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	gw1.Wait()
	for _, name := range leaves {
		nodeIs(t, name, "leaf", "gw-2", api.StateLinked)
	}

	procs["leaf-1"].stop(t)
	nodeIs(t, "leaf-1", "leaf", "gw-2", api.StateLost)
	startProc(t, "leaf-1 again", "agent", "--data", filepath.Join(dir, "leaf-1"))
	nodeIs(t, "leaf-1", "leaf", "gw-2", api.StateLinked)
}
