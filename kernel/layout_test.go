package kernel_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The import direction of DESIGN.md: the kernel imports none of the parts;
// the parts (wasmhost, mesh, devices) import only the kernel's vocabulary and
// never each other; cmd plugs everything together; the pure decision
// packages do no I/O; the SDK imports nothing of ours.

const module = "github.com/canopy-fleet/canopy"

// vocabulary is what the parts may import from the kernel: types only.
var vocabulary = map[string]bool{module + "/kernel": true}

// pureDecision packages must not touch I/O, clocks or goroutine machinery
// beyond the standard library's pure parts.
var pureDecision = []string{module + "/kernel/sched", module + "/kernel/rollout"}

var ioPackages = []string{"os", "os/exec", "os/signal", "net", "net/http", "io/ioutil", "syscall",
	"database/sql", "github.com/dgraph-io/badger/v4", "github.com/hashicorp/raft", "log"}

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 2 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// area returns the top-level folder of an import path of ours, or "".
func area(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	a, _, _ := strings.Cut(rest, "/")
	return a
}

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		from := area(p.ImportPath)
		for _, imp := range p.Imports {
			to := area(imp)
			if to == "" {
				continue
			}
			if msg := forbidden(p.ImportPath, from, imp, to); msg != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, msg)
			}
		}
		for _, pure := range pureDecision {
			if p.ImportPath != pure && !strings.HasPrefix(p.ImportPath, pure+"/") {
				continue
			}
			for _, imp := range p.Imports {
				for _, bad := range ioPackages {
					if imp == bad {
						t.Errorf("%s is pure decision code but imports %s", p.ImportPath, imp)
					}
				}
				if a := area(imp); a != "" && a != "kernel" {
					t.Errorf("%s is pure decision code but imports %s", p.ImportPath, imp)
				}
			}
		}
	}
}

func forbidden(from, fromArea, imp, toArea string) string {
	switch fromArea {
	case "cmd":
		return ""
	case "kernel":
		if toArea != "kernel" {
			return "the kernel imports none of the parts"
		}
	case "wasmhost", "mesh", "devices":
		if toArea == fromArea {
			return ""
		}
		if toArea == "kernel" && vocabulary[imp] {
			return ""
		}
		return "a part imports only its own packages and the kernel's vocabulary"
	case "sdk":
		// The API client speaks the kernel's vocabulary on the wire.
		if strings.HasPrefix(from, module+"/sdk/client") && vocabulary[imp] {
			return ""
		}
		return "the SDK imports nothing of ours"
	case "examples":
		if toArea != "sdk" {
			return "examples import only the SDK"
		}
	}
	return ""
}
