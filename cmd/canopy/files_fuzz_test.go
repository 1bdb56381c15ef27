package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

// writeFuzzFile writes b to a file of the test's own and returns its path.
func writeFuzzFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A damaged agent.json is refused or gives parents to dial; it never
// panics the agent.
func FuzzLoadAgentState(f *testing.F) {
	f.Add([]byte(`{"join":"10.0.0.5:7443","alternates":["10.0.0.6:7443"],"learned":[{"name":"gw-2","addr":"10.0.0.7:7443"}]}`))
	f.Add([]byte(`{"learned":[null,{}]}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := loadAgentState(writeFuzzFile(t, "agent.json", b))
		if err != nil {
			return
		}
		meshParents(st.Join, st.Alternates, st)
	})
}

// A damaged nodes.json is refused with an error naming the file, or opens
// to a registry that keeps working and saves what it reads back.
func FuzzOpenNodeRegistry(f *testing.F) {
	f.Add([]byte(`{"nodes":[{"name":"pi-1","role":"leaf","key":"sha256:k","certs":[{"serial":"1f","expires":"2030-01-01T00:00:00Z"}]}]}`))
	f.Add([]byte(`{"nodes":[null]}`))
	f.Add([]byte(`{"nodes":[{"name":"pi-1","certs":[null]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := writeFuzzFile(t, "nodes.json", b)
		r, err := openNodeRegistry(path, "ctl")
		if err != nil {
			return
		}
		r.liveCerts("pi-1")
		if r.admit("pi-9", "sha256:k9") != nil {
			return // the file gave pi-9 to another key: refused, rightly
		}
		if err := r.joined("pi-9", kernel.RoleLeaf, "sha256:k9"); err != nil {
			t.Fatal(err)
		}
		if _, err := openNodeRegistry(path, "ctl"); err != nil {
			t.Fatalf("the registry does not read back what it saved: %v", err)
		}
	})
}

// A damaged client config is refused with an error naming the file, or
// loads to a config that saves and loads back the same.
func FuzzLoadClientConfig(f *testing.F) {
	f.Add([]byte("server: https://127.0.0.1:7070\ntoken: abcdef.0123456789abcdef0123456789abcdef\ncaHash: sha256:00\n"))
	f.Add([]byte("server: [1, 2]\n"))
	f.Add([]byte("unknown: x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := loadClientConfig(writeFuzzFile(t, "config.yaml", b))
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "again.yaml")
		if err := c.save(path); err != nil {
			t.Fatal(err)
		}
		again, err := loadClientConfig(path)
		if err != nil || *again != *c {
			t.Fatalf("saved %+v, loaded back %+v (%v)", c, again, err)
		}
	})
}
