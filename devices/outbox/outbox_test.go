package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/devices/outbox"
)

func open(t *testing.T, cfg outbox.Config) *outbox.Outbox {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	o, err := outbox.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func msg(id, dest, payload string) outbox.Message {
	return outbox.Message{ID: id, Dest: dest, Payload: []byte(payload)}
}

func ids(ms []outbox.Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.ID)
	}
	return strings.Join(s, ",")
}

func TestOrderAckReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	o, err := outbox.Open(outbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		dest := []string{"cloud", "status"}[i%2]
		if err := o.Append(ctx, msg(fmt.Sprint("m", i), dest, "p")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := o.Next("cloud", 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != "m0,m2,m4" {
		t.Fatalf("cloud: %s", ids(got))
	}
	if err := o.Ack(ctx, "m0", "m2", "nope"); err != nil {
		t.Fatal(err)
	}
	if d := o.Destinations(); d["cloud"] != 1 || d["status"] != 3 {
		t.Fatalf("destinations %v", d)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Append(ctx, msg("late", "cloud", "")); !errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}

	o = open(t, outbox.Config{Dir: dir})
	if o.Len() != 4 || o.Bytes() != int64(4*(2+1)+5+6*3) {
		t.Fatalf("after reopen len=%d bytes=%d", o.Len(), o.Bytes())
	}
	got, _ = o.Next("status", 2)
	if ids(got) != "m1,m3" || string(got[0].Payload) != "p" || got[0].Created.IsZero() {
		t.Fatalf("status after reopen: %+v", got)
	}
	// New messages go after the recovered ones.
	if err := o.Append(ctx, msg("m6", "status", "p")); err != nil {
		t.Fatal(err)
	}
	got, _ = o.Next("status", 10)
	if ids(got) != "m1,m3,m5,m6" {
		t.Fatalf("status: %s", ids(got))
	}
}

func TestDedupe(t *testing.T) {
	ctx := context.Background()
	o := open(t, outbox.Config{})
	for range 3 {
		if err := o.Append(ctx, msg("a", "cloud", "x"), msg("a", "cloud", "x")); err != nil {
			t.Fatal(err)
		}
	}
	if o.Len() != 1 {
		t.Fatalf("len %d after appending one id 6 times", o.Len())
	}
	if err := o.Ack(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// Redelivered after the ack: still a duplicate.
	if err := o.Append(ctx, msg("a", "cloud", "x")); err != nil {
		t.Fatal(err)
	}
	if o.Len() != 0 || o.Stats().Duplicates != 6 {
		t.Fatalf("len %d stats %+v", o.Len(), o.Stats())
	}
}

func TestBoundDropsOldest(t *testing.T) {
	ctx := context.Background()
	// Each message counts 1 (id) + 1 (dest) + 8 (payload) = 10 bytes.
	o := open(t, outbox.Config{MaxBytes: 50})
	for i := range 8 {
		if err := o.Append(ctx, msg(fmt.Sprint(i), []string{"a", "b"}[i%2], "12345678")); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := o.Next("a", 10)
	b, _ := o.Next("b", 10)
	if ids(a) != "4,6" || ids(b) != "3,5,7" {
		t.Fatalf("kept a=%s b=%s, want the newest five", ids(a), ids(b))
	}
	if st := o.Stats(); st.Dropped != 3 || st.Bytes != 50 {
		t.Fatalf("stats %+v", st)
	}
	err := o.Append(ctx, msg("big", "a", strings.Repeat("x", 60)))
	if !errors.Is(err, outbox.ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	o := open(t, outbox.Config{})
	for name, m := range map[string]outbox.Message{
		"no id":    msg("", "a", ""),
		"no dest":  msg("x", "", ""),
		"nul dest": msg("x", "a\x00b", ""),
		"long id":  msg(strings.Repeat("i", 256), "a", ""),
	} {
		if err := o.Append(ctx, m); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want one-line error, got %v", name, err)
		}
	}
	if _, err := outbox.Open(outbox.Config{}); err == nil {
		t.Error("open without dir succeeded")
	}
}

func TestCorruptDirRefusedNotWiped(t *testing.T) {
	dir := t.TempDir()
	o, err := outbox.Open(outbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Append(context.Background(), msg("keep", "a", "me")); err != nil {
		t.Fatal(err)
	}
	o.Close()
	manifest := filepath.Join(dir, "MANIFEST")
	garbage := []byte("this is not a badger manifest, it is garbage")
	if err := os.WriteFile(manifest, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, dir)
	_, err = outbox.Open(outbox.Config{Dir: dir})
	if !errors.Is(err, outbox.ErrDamaged) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one-line ErrDamaged, got %v", err)
	}
	if after := listDir(t, dir); after != before {
		t.Fatalf("directory changed:\nbefore %s\nafter  %s", before, after)
	}
	if b, _ := os.ReadFile(manifest); string(b) != string(garbage) {
		t.Fatal("manifest rewritten")
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, e := range es {
		info, _ := e.Info()
		s = append(s, fmt.Sprintf("%s:%d", e.Name(), info.Size()))
	}
	return strings.Join(s, " ")
}
