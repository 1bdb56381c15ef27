package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/canopy-fleet/canopy/kernel"
)

// checkOutput refuses an -o value that is not one of forms (exit 2).
func checkOutput(output string, forms ...string) error {
	for _, f := range forms {
		if output == f {
			return nil
		}
	}
	list := ""
	for i, f := range forms {
		switch {
		case i == 0:
		case i == len(forms)-1:
			list += " or "
		default:
			list += ", "
		}
		list += f
	}
	return usageError{fmt.Errorf("-o %q: want %s", output, list)}
}

// writeAs writes v whole as indented JSON or as YAML (with the JSON field
// names) and reports true; for any other output it writes nothing and
// reports false: the caller prints its own form.
func writeAs(w io.Writer, v any, output string) (bool, error) {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return true, enc.Encode(v)
	case "yaml":
		return true, writeYAMLOf(w, v)
	}
	return false, nil
}

// callAPI sends one request with the client the flags and config name
// and decodes the answer into out.
func callAPI(cmd *cobra.Command, cf *clientFlags, method, path string, body, out any) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.http.CloseIdleConnections()
	return c.do(cmd.Context(), method, path, body, out)
}

// kindAndName checks the arguments of `canopy VERB KIND NAME`: a kind
// kinds names and a valid node name.
func kindAndName(verb string, kinds map[string]string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 2 {
			return fmt.Errorf("%s: want node NAME", verb)
		}
		if _, ok := kinds[args[0]]; !ok {
			return fmt.Errorf("%s: unknown resource %q: want node", verb, args[0])
		}
		if !kernel.ValidName(args[1]) {
			return fmt.Errorf("%s node: %q is not a node name (1-63 lowercase letters, digits, dashes)", verb, args[1])
		}
		return nil
	}
}
