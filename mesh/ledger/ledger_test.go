package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

func nodeName(s string) kernel.NodeName { return kernel.NodeName(s) }

func open(t *testing.T, dir string) *Ledger {
	t.Helper()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// ep is the epoch of the sources' outboxes in tests of one epoch.
const ep = 0xE1

// load returns the next ID the ledger holds for src, and fails the test
// unless it is of epoch ep (or 0 for a source never advanced).
func load(t *testing.T, l *Ledger, src kernel.NodeName) uint64 {
	t.Helper()
	e, v, err := l.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if e != ep && (e != 0 || v != 0) {
		t.Fatalf("%s at epoch %x, want %x", src, e, ep)
	}
	return v
}

func TestAdvanceSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ledger") // Open creates it
	l := open(t, dir)
	if v := load(t, l, "leaf-1"); v != 0 {
		t.Fatalf("empty ledger holds %d", v)
	}
	for _, step := range []struct {
		src  kernel.NodeName
		next uint64
	}{{"leaf-1", 5}, {"leaf-2", 9}, {"leaf-1", 64}, {"leaf-1", 3}} {
		if err := l.Advance(step.src, ep, step.next); err != nil {
			t.Fatal(err)
		}
	}
	if v := load(t, l, "leaf-1"); v != 64 {
		t.Fatalf("leaf-1 at %d after advancing to 64 then 3, want 64", v)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Load("leaf-1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load after Close: %v", err)
	}
	if err := l.Advance("leaf-1", ep, 99); !errors.Is(err, ErrClosed) {
		t.Fatalf("Advance after Close: %v", err)
	}
	l = open(t, dir)
	for src, want := range map[kernel.NodeName]uint64{"leaf-1": 64, "leaf-2": 9, "leaf-3": 0} {
		if v := load(t, l, src); v != want {
			t.Errorf("after reopen %s at %d, want %d", src, v, want)
		}
	}
}

func TestOneProcessAtATime(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open = %v, want in use", err)
	}
	l.Close()
	open(t, dir) // released by Close
}

func TestRejectsBadSourceNames(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	for _, src := range []kernel.NodeName{"", "../escape", "a/b", "UPPER", kernel.NodeName(strings.Repeat("x", 64))} {
		if err := l.Advance(src, ep, 1); err == nil || !strings.Contains(err.Error(), "not a valid node name") {
			t.Errorf("Advance(%q) = %v", src, err)
		}
		if _, _, err := l.Load(src); err == nil {
			t.Errorf("Load(%q) accepted", src)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 { // LOCK
		t.Fatalf("files after refused advances: %v", entries)
	}
}

func TestRemovesInterruptedWrites(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	if err := l.Advance("leaf-1", ep, 10); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// What a crash between CreateTemp and Rename leaves behind.
	stale := filepath.Join(dir, tmpPrefix+"leaf-1-12345")
	if err := os.WriteFile(stale, encode("leaf-1", ep, 99)[:7], 0o600); err != nil {
		t.Fatal(err)
	}
	l = open(t, dir)
	if v := load(t, l, "leaf-1"); v != 10 {
		t.Fatalf("leaf-1 at %d, want 10: an unrenamed write counted", v)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file kept: %v", err)
	}
}

// TestRefusesDamage: Open names the damaged file on one line and leaves
// every file as it was.
func TestRefusesDamage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"flipped byte", func(dir string) error {
			p := filepath.Join(dir, "leaf-1.ledger")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[8] ^= 0x40
			return os.WriteFile(p, b, 0o600)
		}, "leaf-1.ledger: checksum mismatch"},
		{"emptied", func(dir string) error { return os.Truncate(filepath.Join(dir, "leaf-1.ledger"), 0) }, "leaf-1.ledger: truncated record"},
		{"garbage", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "leaf-2.ledger"), []byte("hello\n"), 0o600)
		}, "leaf-2.ledger: not a ledger record (bad magic)"},
		{"renamed", func(dir string) error {
			return os.Rename(filepath.Join(dir, "leaf-1.ledger"), filepath.Join(dir, "leaf-9.ledger"))
		}, `leaf-9.ledger: holds the record of "leaf-1"`},
		{"version 1", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "leaf-1.ledger"), encodeV1("leaf-1", 300), 0o600)
		}, "leaf-1.ledger: record version 1, want 2 (written by another canopy version: remove it to forget that source)"},
		{"foreign file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "000001.vlog"), []byte("x"), 0o600)
		}, `unexpected file "000001.vlog"`},
		{"subdirectory", func(dir string) error { return os.Mkdir(filepath.Join(dir, "leaf-3.ledger"), 0o700) }, `unexpected file "leaf-3.ledger"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := open(t, dir)
			if err := l.Advance("leaf-1", ep, 300); err != nil {
				t.Fatal(err)
			}
			l.Close()
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			before := listing(t, dir)
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Open = %v, want one line containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "outbox ledger "+dir+": ") {
				t.Fatalf("error does not name the directory: %v", err)
			}
			if after := listing(t, dir); after != before {
				t.Fatalf("Open changed the directory:\n%s\nto\n%s", before, after)
			}
		})
	}
}

func listing(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %x\n", e.Name(), data)
	}
	return b.String()
}

func TestConcurrentSources(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	var wg sync.WaitGroup
	for s := 0; s < 8; s++ {
		src := kernel.NodeName(fmt.Sprintf("leaf-%d", s))
		wg.Add(2)
		for w := 0; w < 2; w++ { // two writers per source race on it
			go func() {
				defer wg.Done()
				for i := uint64(1); i <= 20; i++ {
					if err := l.Advance(src, ep, i); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	l.Close()
	l = open(t, dir)
	for s := 0; s < 8; s++ {
		if v := load(t, l, kernel.NodeName(fmt.Sprintf("leaf-%d", s))); v != 20 {
			t.Errorf("leaf-%d at %d, want 20", s, v)
		}
	}
}

func BenchmarkAdvance(b *testing.B) {
	l, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := l.Advance("leaf-1", ep, uint64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
}

// A source whose outbox has a new epoch replaces its record, whatever its
// next ID; within one epoch the record only grows; both survive a reopen.
func TestNewEpochReplacesRecord(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	steps := []struct {
		epoch, next         uint64
		wantEpoch, wantNext uint64
	}{
		{0xE1, 500, 0xE1, 500},
		{0xE1, 400, 0xE1, 500}, // lower in the same epoch: ignored
		{0xE2, 3, 0xE2, 3},     // new epoch: replaced although lower
		{0xE2, 2, 0xE2, 3},
		{0xE2, 64, 0xE2, 64},
		{0xE1, 1, 0xE1, 1}, // any other epoch replaces it, an old one too
	}
	for i, st := range steps {
		if err := l.Advance("leaf-1", st.epoch, st.next); err != nil {
			t.Fatal(err)
		}
		if e, v, err := l.Load("leaf-1"); err != nil || e != st.wantEpoch || v != st.wantNext {
			t.Fatalf("step %d: Load = %x, %d, %v; want %x, %d", i, e, v, err, st.wantEpoch, st.wantNext)
		}
		l.Close()
		l = open(t, dir)
		if e, v, err := l.Load("leaf-1"); err != nil || e != st.wantEpoch || v != st.wantNext {
			t.Fatalf("step %d, reopened: Load = %x, %d, %v; want %x, %d", i, e, v, err, st.wantEpoch, st.wantNext)
		}
	}
}
