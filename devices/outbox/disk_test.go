package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

// TestDiskFull fills a real small filesystem (a tmpfs mounted for the test)
// until less than MinFreeDisk is left. Where mounting is not allowed (not
// root), the same real statfs check is driven by reopening the outbox with
// MinFreeDisk above what the disk has free.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	mnt := t.TempDir()
	tmpfs := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt).Run() == nil
	if tmpfs {
		t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	} else {
		t.Log("cannot mount a tmpfs (not root): using a MinFreeDisk above the free space instead")
	}
	dir := filepath.Join(mnt, "outbox")
	cfg := outbox.Config{Dir: dir, MinFreeDisk: 16 << 20}
	if !tmpfs {
		cfg.MinFreeDisk = -1
	}
	o, err := outbox.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { o.Close() }()
	for i := range 20 {
		if err := o.Append(ctx, msg(fmt.Sprint(i), "cloud", "reading")); err != nil {
			t.Fatal(err)
		}
	}
	filler := filepath.Join(mnt, "filler")
	if tmpfs {
		fill(t, filler, 40<<20)
	} else {
		o.Close()
		cfg.MinFreeDisk = 1 << 62
		if o, err = outbox.Open(cfg); err != nil {
			t.Fatal(err)
		}
	}

	err = o.Append(ctx, msg("new", "cloud", "reading"))
	if !errors.Is(err, outbox.ErrDiskFull) {
		t.Fatalf("want ErrDiskFull, got %v", err)
	}
	st := o.Stats()
	if st.DiskFull != 1 || st.Dropped != 3 || st.Len != 17 {
		t.Fatalf("stats %+v, want 1 refused append and the oldest tenth (3 messages) dropped", st)
	}
	if ms, _ := o.Next("cloud", 1); len(ms) != 1 || ms[0].ID != "3" {
		t.Fatalf("oldest left is %+v, want id 3", ms)
	}
	if tmpfs {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	} else {
		o.Close()
		cfg.MinFreeDisk = -1
		if o, err = outbox.Open(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Append(ctx, msg("new", "cloud", "reading")); err != nil {
		t.Fatalf("append after space came back: %v", err)
	}
}

func fill(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for written := 0; written < n; written += len(buf) {
		if _, err := f.Write(buf); err != nil {
			return // the filesystem is full: good enough
		}
	}
}
