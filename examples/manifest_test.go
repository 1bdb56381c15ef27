// Package examples holds the example tasks users copy; this test checks
// their manifests as canopy deploy would.
package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

func TestManifestsParse(t *testing.T) {
	paths, err := filepath.Glob("*/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 3 {
		t.Fatalf("found %d manifests, want one per example (at least 3): %v", len(paths), paths)
	}
	for _, p := range paths {
		dir := filepath.Dir(p)
		t.Run(dir, func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			dep, err := kernel.ParseDeployment(data)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if dep.Name != dir {
				t.Errorf("name %q, want the directory's name %q", dep.Name, dir)
			}
			if want := "./" + strings.ReplaceAll(dir, "-", "_") + ".wasm"; dep.Module != want {
				t.Errorf("module %q, want %q (what examples/Makefile builds)", dep.Module, want)
			}
			if dep.Type != kernel.TypeService || len(dep.Subscribe) == 0 || len(dep.Publish) == 0 {
				t.Errorf("want a service that subscribes and publishes; got type %s, %d subscriptions, %d publish grants",
					dep.Type, len(dep.Subscribe), len(dep.Publish))
			}
			if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
				t.Errorf("no README: %v", err)
			}
		})
	}
}

func TestManifestRejectsMistakes(t *testing.T) {
	// What a user copying an example is likely to get wrong is reported
	// with the field's name.
	base, err := os.ReadFile("temp-alert/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, field string }{
		{"unknown field", "restart: always", "restart: always\nthreshold: 30", "threshold"},
		{"bad unit", "callTimeout: 100ms", "callTimeout: 100 parsecs", `"100 parsecs"`},
		{"job that subscribes", "type: service", "type: job", "subscribe"},
		{"bad topic filter", `publish: ["alerts/temperature"]`, `publish: ["alerts/#/x"]`, "publish[0]"},
	} {
		m := strings.Replace(string(base), c.old, c.new, 1)
		if m == string(base) {
			t.Fatalf("%s: %q not in the manifest", c.name, c.old)
		}
		_, err := kernel.ParseDeployment([]byte(m))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name %q", c.name, err, c.field)
		}
	}
}
