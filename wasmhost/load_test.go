package wasmhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/wasmhost/interrupt"
)

func TestLoadRefusesBadModules(t *testing.T) {
	h := newHost(t)
	guestWasm := module(t, "guest")
	cases := []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "invalid wasm module: truncated: 0 bytes"},
		{"text", []byte("(module)\n"), "invalid wasm module: not a wasm module: bad magic number"},
		{"version", []byte("\x00asm\x02\x00\x00\x00"), "invalid wasm module: unsupported wasm binary version 2"},
		{"truncated header", guestWasm[:6], "invalid wasm module: truncated: 6 bytes"},
		{"truncated section", guestWasm[:40], "invalid wasm module: truncated"},
		{"truncated half", guestWasm[:len(guestWasm)/2], "invalid wasm module"},
		{"truncated end", guestWasm[:len(guestWasm)-1], "invalid wasm module"},
		{"no abi export", module(t, "bad_noabi"), "not a canopy task: missing export canopy_abi_version"},
		{"unknown import", module(t, "bad_import"), "module imports env.sneaky (function): only wasi_snapshot_preview1 and canopy may be imported"},
		{"start section", startSectionModule, "invalid task module: it has a start section"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := h.Load(context.Background(), c.wasm)
			if err == nil {
				m.Close(context.Background())
				t.Fatal("loaded")
			}
			if !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line starting %q", err, c.want)
			}
		})
	}
}

func TestABIVersionChecked(t *testing.T) {
	h := newHost(t)
	m, err := h.Load(context.Background(), module(t, "bad_version"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Instantiate(context.Background(), m, TaskConfig{ID: "v2"})
	if !errors.Is(err, ErrInvalidTask) || !strings.Contains(err.Error(), "canopy_abi_version returned 2, this host implements ABI version 1") {
		t.Fatalf("got %v", err)
	}
}

func TestModuleKindMustMatchTaskType(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	job, err := h.Load(ctx, module(t, "job"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := h.Load(ctx, module(t, "guest"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Instantiate(ctx, job, TaskConfig{ID: "x"}); !errors.Is(err, ErrInvalidTask) {
		t.Fatalf("command as a service: %v", err)
	}
	if _, err := h.Instantiate(ctx, svc, TaskConfig{ID: "x", Type: kernel.TypeJob}); !errors.Is(err, ErrInvalidTask) {
		t.Fatalf("reactor as a job: %v", err)
	}
	if _, err := h.Instantiate(ctx, svc, TaskConfig{ID: "", Publish: []string{"a/#/b"}}); !errors.Is(err, ErrInvalidTask) ||
		!strings.Contains(err.Error(), "id: empty") || !strings.Contains(err.Error(), `publish "a/#/b"`) {
		t.Fatalf("bad config: %v", err)
	}
}

func TestJobs(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	m, err := h.Load(ctx, module(t, "job"))
	if err != nil {
		t.Fatal(err)
	}
	limits := kernel.Limits{CallTimeout: kernel.Duration(50 * time.Millisecond)}
	for _, c := range []struct{ mode, want string }{
		{"ok", ""},
		{"exit3", "exit code 3"},
		{"loop", "call timeout 50ms exceeded"},
		{"trap", "trap: unreachable"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			logs := &logLines{}
			i, err := h.Instantiate(ctx, m, TaskConfig{ID: kernel.TaskID("job-" + c.mode), Type: kernel.TypeJob, Limits: limits,
				Config: map[string]string{"mode": c.mode}, Logger: slogger(logs)})
			if err != nil {
				t.Fatal(err)
			}
			defer i.Close(ctx)
			err = i.Run(ctx)
			if got := errString(err); got != c.want {
				t.Fatalf("Run = %q, want %q", got, c.want)
			}
			i.Close(ctx) // flushes stdout
			if logs.count("job mode "+c.mode) != 1 {
				t.Fatalf("stdout not logged: %q", logs.lines)
			}
			if err := i.Run(ctx); err == nil {
				t.Fatal("second Run succeeded")
			}
		})
	}
	// Cancelling the context stops a running job.
	i, err := h.Instantiate(ctx, m, TaskConfig{ID: "job-cancel", Type: kernel.TypeJob,
		Limits: kernel.Limits{CallTimeout: kernel.Duration(time.Minute)}, Config: map[string]string{"mode": "loop"}})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close(ctx)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := i.Run(cctx); !errors.Is(err, ErrStopped) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled job: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestCompileCacheShared: a second Host on the same CacheDir neither
// rewrites nor recompiles the module.
func TestCompileCacheShared(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	wasm := module(t, "guest")
	load := func() (time.Duration, map[string]time.Time) {
		h, err := New(ctx, Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close(ctx)
		t0 := time.Now()
		m, err := h.Load(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		i, err := h.Instantiate(ctx, m, TaskConfig{ID: "c"})
		if err != nil {
			t.Fatal(err)
		}
		if err := i.OnMessage(ctx, "noop", nil); err != nil {
			t.Fatal(err)
		}
		i.Close(ctx)
		files := map[string]time.Time{}
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				files[p] = fi.ModTime()
			}
			return nil
		})
		return d, files
	}
	d1, files1 := load()
	d2, files2 := load()
	t.Logf("first load %s, second load (cached) %s", d1, d2)
	var instrumented, compiled int
	for p := range files1 {
		switch {
		case strings.Contains(p, "instrumented"):
			instrumented++
		case strings.Contains(p, "compiled"):
			compiled++
		}
	}
	if instrumented != 1 || compiled == 0 {
		t.Fatalf("cache holds %d instrumented and %d compiled files: %v", instrumented, compiled, files1)
	}
	if len(files1) != len(files2) {
		t.Fatalf("second host wrote new cache files: %v then %v", files1, files2)
	}
	for p, mt := range files1 {
		if !files2[p].Equal(mt) {
			t.Fatalf("second host rewrote %s", p)
		}
	}
}

// startSectionModule is a hand-assembled task whose start function loops
// forever: memory, canopy_abi_version, and (start 0).
var startSectionModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x08, 0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x01, 0x7f, // types: () -> (), () -> i32
	0x03, 0x03, 0x02, 0x00, 0x01, // functions: 0 (type 0), 1 (type 1)
	0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1
	0x07, 0x1f, 0x02, // exports: memory, canopy_abi_version
	0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,
	0x12, 'c', 'a', 'n', 'o', 'p', 'y', '_', 'a', 'b', 'i', '_', 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x00, 0x01,
	0x08, 0x01, 0x00, // start: function 0
	0x0a, 0x0e, 0x02, // code
	0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end end
	0x04, 0x00, 0x41, 0x01, 0x0b, // i32.const 1
}

// TestDamagedInstrumentedCache: a damaged cache file is rewritten, not
// blamed on the module.
func TestDamagedInstrumentedCache(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	wasm := module(t, "guest")
	for round := range 2 {
		h, err := New(ctx, Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		m, err := h.Load(ctx, wasm)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		paths, _ := filepath.Glob(filepath.Join(dir, "instrumented", m.Digest()+"*.wasm"))
		if len(paths) != 1 {
			t.Fatalf("cache files %q, want one", paths)
		}
		path := paths[0]
		if round == 0 {
			if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if b, err := os.ReadFile(path); err != nil || len(b) < len(wasm) {
			t.Fatalf("cache file not rewritten: %d bytes, %v", len(b), err)
		}
		h.Close(ctx)
	}
}

// TestImportNamesQuoted: an import whose name holds a newline or other
// control bytes is refused with a one-line error that still names it.
func TestImportNamesQuoted(t *testing.T) {
	h := newHost(t)
	imp := []byte{0x01, 0x03, 'e', 'n', 'v', 0x04, 'a', '\n', 'b', 0x1b, 0x00, 0x00} // env."a\nb\x1b" (func type 0)
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), wasmSection(1, 0x01, 0x60, 0x00, 0x00)...)
	wasm = append(wasm, wasmSection(2, imp...)...)
	_, err := h.Load(context.Background(), wasm)
	if err == nil || strings.ContainsAny(err.Error(), "\n\x1b") || !strings.Contains(err.Error(), `env."a\nb\x1b"`) {
		t.Fatalf("got %q, want one line naming env.\"a\\nb\\x1b\"", err)
	}
}

// TestInstrumentedCacheKeyedByVersion: a module rewritten by another
// version of the instrumentation (an older canopy on the same CacheDir) is
// not used: the cache key includes interrupt.Version.
func TestInstrumentedCacheKeyedByVersion(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	h, err := New(ctx, Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	guest := module(t, "guest")
	// What an older version left under the guest's digest: a valid
	// instrumented module, but not this one's rewrite (here: another module).
	other, err := interrupt.Instrument(module(t, "bench"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(guest)
	if err := os.WriteFile(filepath.Join(dir, "instrumented", hex.EncodeToString(sum[:])+".wasm"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := h.Load(ctx, guest)
	if err != nil {
		t.Fatal(err)
	}
	pub := &published{}
	i, err := h.Instantiate(ctx, m, TaskConfig{ID: "versioned", Publish: []string{"echo/#"}, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close(ctx)
	if err := i.OnMessage(ctx, "echo", []byte("x")); err != nil || len(pub.all()) != 1 {
		t.Fatalf("OnMessage = %v, published %q: the guest's own code did not run", err, pub.all())
	}
}

// TestReservedExportNamed: a module that exports a name the instrumentation
// adds is refused with an error naming that export.
func TestReservedExportNamed(t *testing.T) {
	h := newHost(t)
	for _, name := range []string{interrupt.ExportName, interrupt.StartExportName, interrupt.DepthExportName} {
		exp := []byte{0x03, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, 0x12}
		exp = append(exp, ExportABIVersion...)
		exp = append(exp, 0x00, 0x00, byte(len(name)))
		exp = append(exp, name...)
		exp = append(exp, 0x00, 0x00)
		wasm := []byte("\x00asm\x01\x00\x00\x00")
		wasm = append(wasm, wasmSection(1, 0x01, 0x60, 0x00, 0x01, 0x7f)...)
		wasm = append(wasm, wasmSection(3, 0x01, 0x00)...)
		wasm = append(wasm, wasmSection(5, 0x01, 0x00, 0x01)...)
		wasm = append(wasm, wasmSection(7, exp...)...)
		wasm = append(wasm, wasmSection(10, 0x01, 0x04, 0x00, 0x41, 0x01, 0x0b)...)
		_, err := h.Load(context.Background(), wasm)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("module exporting %s: %v, want an error naming it", name, err)
		}
	}
}
