package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/canopy-fleet/canopy/mesh/meshbench"
)

func init() {
	// The memory figure re-runs this binary as the gateway's 1,000 children
	// (meshbench.ChildEnv set) so the gateway's process counts only its
	// side of each link; that child never reaches the CLI.
	if ran, err := meshbench.ChildrenMain(); ran {
		if err != nil {
			fmt.Fprintln(os.Stderr, "canopy: mesh bench children: "+err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
	registerBenchSuite(benchSuite{
		Name:  "mesh",
		Short: "request/response p50/p99 and blob throughput vs raw quic-go, join (token to first heartbeat), failover, memory per idle child link at a gateway with 1,000 children",
		Run:   runMeshBench,
	})
}

func runMeshBench(ctx context.Context, opts benchOptions) ([]benchResult, error) {
	spawn := func() *exec.Cmd {
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		return exec.Command(exe)
	}
	rs, err := meshbench.All(ctx, meshbench.Options{Quick: opts.Quick, Spawn: spawn})
	if err != nil {
		return nil, err
	}
	out := make([]benchResult, 0, len(rs))
	for _, r := range rs {
		out = append(out, benchResult{Name: r.Name, Value: r.Value, Unit: r.Unit, Baseline: r.Baseline, Target: r.Target, Note: r.Note})
	}
	return out, nil
}
