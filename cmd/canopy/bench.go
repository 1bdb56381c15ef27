package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// benchSuite is one group of measurements `canopy bench` can run. Each suite
// registers itself from its own file with registerBenchSuite in an init
// function.
type benchSuite struct {
	Name  string
	Short string
	Run   func(ctx context.Context, opts benchOptions) ([]benchResult, error)
}

// benchOptions are the flags every suite understands.
type benchOptions struct {
	Quick bool // fewer iterations, for smoke tests
	Log   io.Writer
}

// benchResult is one measured figure, with its baseline from the same run
// where the suite has one.
type benchResult struct {
	Suite    string  `json:"suite"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline float64 `json:"baseline,omitempty"` // same figure for the baseline (e.g. raw wazero)
	Ratio    float64 `json:"ratio,omitempty"`    // Value / Baseline
	Target   string  `json:"target,omitempty"`   // the figure the issue asks for, e.g. "<= 1.3x"
	Note     string  `json:"note,omitempty"`
}

var benchSuites = map[string]benchSuite{}

func registerBenchSuite(s benchSuite) {
	if _, dup := benchSuites[s.Name]; dup {
		panic("duplicate bench suite " + s.Name)
	}
	benchSuites[s.Name] = s
}

func newBenchCmd() *cobra.Command {
	var output string
	var quick bool
	cmd := &cobra.Command{
		Use:   "bench [SUITE...]",
		Short: "Measure this device and the cluster; prints a table",
		Long:  "Measure this device and the cluster. Suites: " + strings.Join(suiteNames(), ", ") + ". With no suite, all run.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("-o must be table or json, got %q", output)}
			}
			names := args
			if len(names) == 0 {
				names = suiteNames()
			}
			for _, n := range names {
				if _, ok := benchSuites[n]; !ok {
					return usageError{fmt.Errorf("unknown bench suite %q (have: %s)", n, strings.Join(suiteNames(), ", "))}
				}
			}
			var all []benchResult
			for _, n := range names {
				res, err := benchSuites[n].Run(cmd.Context(), benchOptions{Quick: quick, Log: cmd.ErrOrStderr()})
				if err != nil {
					return fmt.Errorf("bench %s: %w", n, err)
				}
				for i := range res {
					res[i].Suite = n
					if res[i].Baseline != 0 && res[i].Ratio == 0 {
						res[i].Ratio = res[i].Value / res[i].Baseline
					}
				}
				all = append(all, res...)
			}
			return printBench(cmd.OutOrStdout(), output, all)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&quick, "quick", false, "fewer iterations (a smoke run, not a measurement)")
	return cmd
}

func suiteNames() []string {
	names := make([]string, 0, len(benchSuites))
	for n := range benchSuites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func printBench(w io.Writer, format string, rs []benchResult) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tFIGURE\tVALUE\tBASELINE\tRATIO\tTARGET\tNOTE")
	for _, r := range rs {
		base, ratio := "-", "-"
		if r.Baseline != 0 {
			base = fmtNum(r.Baseline) + " " + r.Unit
			ratio = fmt.Sprintf("%.2fx", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", r.Suite, r.Name, fmtNum(r.Value), r.Unit, base, ratio, r.Target, r.Note)
	}
	return tw.Flush()
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
