package wasmhost

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

// guest drives the host functions of one instance through the test
// guest's call_* exports: it writes guest memory, calls, and reads back.
type guest struct {
	t       *testing.T
	i       *Instance
	scratch uint32
}

func newGuest(t *testing.T, i *Instance) *guest {
	g := &guest{t: t, i: i}
	g.scratch = uint32(g.call("scratch"))
	return g
}

// call calls an export of the test guest with raw i32 arguments.
func (g *guest) call(name string, args ...uint32) int32 {
	g.t.Helper()
	fn := g.i.wmod.ExportedFunction(name)
	if fn == nil {
		g.t.Fatalf("no export %s", name)
	}
	stack := make([]uint64, max(len(args), 1))
	for k, a := range args {
		stack[k] = uint64(a)
	}
	if err := g.i.call(fn, stack); err != nil {
		g.t.Fatalf("%s%v: %v", name, args, err)
	}
	return int32(stack[0])
}

// put writes s into scratch memory at offset off and returns its pointer
// and length.
func (g *guest) put(off uint32, s string) (uint32, uint32) {
	g.t.Helper()
	if !g.i.mem.Write(g.scratch+off, []byte(s)) {
		g.t.Fatal("write scratch")
	}
	return g.scratch + off, uint32(len(s))
}

func (g *guest) read(p, n uint32) string {
	b, ok := g.i.mem.Read(p, n)
	if !ok {
		g.t.Fatal("read guest memory")
	}
	return string(b)
}

func (g *guest) snapshot() []byte {
	b, _ := g.i.mem.Read(0, g.i.mem.Size())
	return bytes.Clone(b)
}

// badRanges are (ptr, len) pairs that must be refused with -4.
func badRanges(size uint32) [][2]uint32 {
	return [][2]uint32{
		{size, 1},                // starts at the end
		{size - 1, 2},            // crosses the end
		{0xFFFFFFF0, 0x20},       // ptr+len wraps around in uint32 to 0x10
		{16, 0xFFFFFFFF},         // huge length
		{0xFFFFFFFF, 1},          // negative pointer as i32
		{size + 4096, 0},         // empty range out of bounds
		{0x80000000, 0x80000000}, // wraps to exactly 0
	}
}

// TestHostCallsRefuseBadPointers: every host function returns -4 for every
// out-of-bounds or overflowing (ptr, len) argument and writes nothing.
func TestHostCallsRefuseBadPointers(t *testing.T) {
	h := newHost(t)
	i := start(t, h, "guest", TaskConfig{Publish: []string{"#"}, Publisher: &published{}, Config: map[string]string{"k": "v"}})
	g := newGuest(t, i)
	size := i.mem.Size()
	kp, kl := g.put(0, "k")
	vp, vl := g.put(16, "value")
	tp, tl := g.put(32, "topic/a")
	bp, bc := g.scratch+64, uint32(64)
	if r := g.call("call_kv_set", kp, kl, vp, vl); r != 0 {
		t.Fatalf("kv_set valid = %d", r)
	}
	// Each call with its pointer pairs; bad ranges replace one pair at a time.
	calls := []struct {
		name  string
		args  []uint32
		pairs []int // index of each ptr argument (its len follows)
	}{
		{"call_publish", []uint32{tp, tl, vp, vl}, []int{0, 2}},
		{"call_kv_get", []uint32{kp, kl, bp, bc}, []int{0, 2}},
		{"call_kv_set", []uint32{kp, kl, vp, vl}, []int{0, 2}},
		{"call_kv_delete", []uint32{kp, kl}, []int{0}},
		{"call_config_get", []uint32{kp, kl, bp, bc}, []int{0, 2}},
	}
	for _, c := range calls {
		for _, pair := range c.pairs {
			for _, bad := range badRanges(size) {
				args := append([]uint32(nil), c.args...)
				args[pair], args[pair+1] = bad[0], bad[1]
				if pair == 0 && bad[1] == 0 {
					continue // an empty key is -4 anyway; covered below
				}
				before := g.snapshot()
				if r := g.call(c.name, args...); r != CodeInvalidArgument {
					t.Errorf("%s%v = %d, want -4", c.name, args, r)
				}
				if !bytes.Equal(before, g.snapshot()) {
					t.Errorf("%s%v changed guest memory", c.name, args)
				}
			}
		}
	}
	// The value is still there: nothing above deleted it.
	if r := g.call("call_kv_get", kp, kl, bp, bc); r != int32(vl) || g.read(bp, vl) != "value" {
		t.Fatalf("kv_get after bad calls = %d %q", r, g.read(bp, vl))
	}
}

func TestHostLog(t *testing.T) {
	h := newHost(t)
	logs := &logLines{}
	i := start(t, h, "guest", TaskConfig{Logger: slogger(logs)})
	g := newGuest(t, i)
	for level, word := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
		p, n := g.put(0, "message "+word)
		g.call("call_log", uint32(level), p, n)
		if logs.count(word+" message "+word) != 1 {
			t.Errorf("level %d: %q", level, logs.lines)
		}
	}
	for _, bad := range badRanges(i.mem.Size()) {
		g.call("call_log", 1, bad[0], bad[1])
	}
	if n := logs.count("log: invalid argument"); n != len(badRanges(i.mem.Size())) {
		t.Errorf("%d invalid-argument notes, want %d", n, len(badRanges(i.mem.Size())))
	}
}

func TestHostPublish(t *testing.T) {
	h := newHost(t)
	pub := &published{}
	i := start(t, h, "guest", TaskConfig{
		Publish:   []string{"alerts/#", "sensors/+/avg"},
		Publisher: pub,
		Limits:    kernel.Limits{PublishSize: 8, PublishRate: 3},
	})
	g := newGuest(t, i)
	cases := []struct {
		topic, data string
		want        int32
	}{
		{"alerts/temp", "hot", 0},
		{"sensors/a/avg", "12345678", 0},   // exactly the size limit
		{"sensors/a/avg", "123456789", -3}, // one byte over
		{"sensors/a/raw", "x", -1},         // not granted
		{"other", "x", -1},                 // not granted
		{"alerts/+", "x", -4},              // wildcard
		{"alerts/#", "x", -4},              // wildcard
		{"", "x", -4},                      // empty topic
		{"alerts/\xff\xfe", "x", -4},       // bad UTF-8
		{"alerts/a", "x", 0},               // third: the burst is 3
		{"alerts/b", "x", -2},              // rate limited
	}
	for _, c := range cases {
		tp, tl := g.put(0, c.topic)
		dp, dl := g.put(512, c.data)
		if r := g.call("call_publish", tp, tl, dp, dl); r != c.want {
			t.Errorf("publish(%q, %q) = %d, want %d", c.topic, c.data, r, c.want)
		}
	}
	if got := strings.Join(pub.all(), ","); got != "alerts/temp hot,sensors/a/avg 12345678,alerts/a x" {
		t.Fatalf("published %q", got)
	}
	// No publisher: -7.
	i2 := start(t, h, "guest", TaskConfig{ID: "nopub", Publish: []string{"#"}})
	g2 := newGuest(t, i2)
	tp, tl := g2.put(0, "a")
	if r := g2.call("call_publish", tp, tl, tp, tl); r != CodeUnavailable {
		t.Fatalf("publish without publisher = %d, want -7", r)
	}
}

func TestHostKV(t *testing.T) {
	h := newHost(t)
	i := start(t, h, "guest", TaskConfig{ID: "kv-a", Limits: kernel.Limits{KV: 100}})
	g := newGuest(t, i)
	set := func(k, v string) int32 {
		kp, kl := g.put(0, k)
		vp, vl := g.put(2048, v)
		return g.call("call_kv_set", kp, kl, vp, vl)
	}
	get := func(g *guest, k string, bufCap uint32) (int32, string) {
		kp, kl := g.put(0, k)
		bp := g.scratch + 3000
		g.i.mem.Write(bp, bytes.Repeat([]byte{'#'}, 100))
		r := g.call("call_kv_get", kp, kl, bp, bufCap)
		return r, g.read(bp, 10)
	}
	del := func(k string) int32 {
		kp, kl := g.put(0, k)
		return g.call("call_kv_delete", kp, kl)
	}
	if r := set("a", "hello"); r != 0 {
		t.Fatalf("set = %d", r)
	}
	if r, buf := get(g, "a", 64); r != 5 || buf != "hello#####" {
		t.Fatalf("get = %d %q", r, buf)
	}
	if r, buf := get(g, "a", 4); r != 5 || buf != "##########" {
		t.Fatalf("get into a short buffer = %d %q: want the length and no copy", r, buf)
	}
	if r, _ := get(g, "missing", 64); r != CodeNotFound {
		t.Fatalf("get missing = %d", r)
	}
	if r := set("", "x"); r != CodeInvalidArgument {
		t.Fatalf("set empty key = %d", r)
	}
	if r := set(strings.Repeat("k", maxKeyLen+1), "x"); r != CodeTooLarge {
		t.Fatalf("set long key = %d", r)
	}
	// Quota 100 bytes of keys+values plus kvEntryCost (32) an entry:
	// "a"+"hello" = 6+32 = 38 used.
	if r := set("b", strings.Repeat("x", 29)); r != 0 { // 38+1+29+32 = 100
		t.Fatalf("set up to the quota = %d", r)
	}
	if r := set("c", ""); r != CodeQuotaExceeded { // 133
		t.Fatalf("set past the quota = %d", r)
	}
	if r := set("b", strings.Repeat("y", 29)); r != 0 { // replacing frees the old value
		t.Fatalf("overwrite at the quota = %d", r)
	}
	if r := del("b"); r != 0 {
		t.Fatalf("delete = %d", r)
	}
	if r := del("b"); r != CodeNotFound {
		t.Fatalf("delete again = %d", r)
	}
	if r := set("c", strings.Repeat("z", 20)); r != 0 { // 38+1+20+32 = 91
		t.Fatalf("set after delete = %d", r)
	}
	// Another task has its own namespace.
	other := newGuest(t, start(t, h, "guest", TaskConfig{ID: "kv-b"}))
	if r, _ := get(other, "a", 64); r != CodeNotFound {
		t.Fatalf("other task sees key a: %d", r)
	}
	// A new instance of the same task sees the data and counts it in the quota.
	i.Close(context.Background())
	again := newGuest(t, start(t, h, "guest", TaskConfig{ID: "kv-a", Limits: kernel.Limits{KV: 100}}))
	if r, buf := get(again, "c", 64); r != 20 || buf != "zzzzzzzzzz" {
		t.Fatalf("after restart get = %d %q", r, buf)
	}
	g = again
	if r := set("d", ""); r != CodeQuotaExceeded { // 91+1+32 > 100
		t.Fatalf("quota not counted after restart: %d", r)
	}
}

func TestHostConfigGet(t *testing.T) {
	h := newHost(t)
	i := start(t, h, "guest", TaskConfig{Config: map[string]string{"threshold": "30", "empty": ""}})
	g := newGuest(t, i)
	bp := g.scratch + 1024
	for _, c := range []struct {
		key    string
		bufCap uint32
		want   int32
		buf    string
	}{
		{"threshold", 16, 2, "30"},
		{"threshold", 1, 2, "##"},
		{"empty", 16, 0, "##"},
		{"missing", 16, CodeNotFound, "##"},
		{"", 16, CodeInvalidArgument, "##"},
	} {
		i.mem.Write(bp, []byte("####"))
		kp, kl := g.put(0, c.key)
		if r := g.call("call_config_get", kp, kl, bp, c.bufCap); r != c.want || g.read(bp, 2) != c.buf {
			t.Errorf("config_get(%q, cap %d) = %d %q, want %d %q", c.key, c.bufCap, r, g.read(bp, 2), c.want, c.buf)
		}
	}
}
