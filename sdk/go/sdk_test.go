package canopy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestCodes(t *testing.T) {
	cases := []struct {
		rc   int32
		want error
		text string
	}{
		{-1, ErrNotPermitted, "canopy: not permitted"},
		{-2, ErrRateLimited, "canopy: rate limited"},
		{-3, ErrTooLarge, "canopy: too large"},
		{-4, ErrInvalidArgument, "canopy: invalid argument"},
		{-5, ErrNotFound, "canopy: not found"},
		{-6, ErrQuotaExceeded, "canopy: quota exceeded"},
		{-7, ErrUnavailable, "canopy: unavailable"},
		{-42, Code(-42), "canopy: error code -42"},
	}
	for _, c := range cases {
		err := result(c.rc)
		if !errors.Is(fmt.Errorf("wrapped: %w", err), c.want) {
			t.Errorf("result(%d) = %v, not errors.Is %v", c.rc, err, c.want)
		}
		if err.Error() != c.text {
			t.Errorf("result(%d).Error() = %q, want %q", c.rc, err.Error(), c.text)
		}
	}
	for _, rc := range []int32{0, 1, 1 << 20} {
		if err := result(rc); err != nil {
			t.Errorf("result(%d) = %v, want nil", rc, err)
		}
	}
}

func TestAppendLine(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		args []any
		want string
	}{
		{"plain", "hello", nil, "hello"},
		{"pairs", "reading", []any{"sensor", "s1", "value", 21.5, "n", 3}, "reading sensor=s1 value=21.5 n=3"},
		{"quoted", "m", []any{"note", "cold start", "eq", "a=b", "empty", ""}, `m note="cold start" eq="a=b" empty=""`},
		{"error", "m", []any{"err", errors.New("disk full")}, `m err="disk full"`},
		{"nil error", "m", []any{"err", error(nil)}, "m err=<nil>"},
		{"bool and bytes", "m", []any{"ok", true, "raw", []byte("x y")}, `m ok=true raw="x y"`},
		{"stringer", "m", []any{"level", LevelWarn}, "m level=warn"},
		{"odd", "m", []any{"k", 1, "dangling"}, "m k=1 !BADKEY=dangling"},
		{"non-string key", "m", []any{7, "x"}, "m !BADKEY=7 !BADKEY=x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(appendLine(nil, c.msg, c.args)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/b", "$SYS/b", false},
		{"$SYS/#", "$SYS/x", true},
		{"+/+", "a/b", true},
		{"+", "a/b", false},
		{"a/+/c", "a//c", true},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"sensors/+/temperature", "sensors/s1/temperature", true},
		{"sensors/+/temperature", "sensors/s1/humidity", false},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"a/+/c", "a/b/c"}, {"#", "x"}, {"a/#", "a"}, {"+", "$x"}, {"", ""}, {"/", "//"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		// Any filter and topic: no panic, and the answer does not depend on
		// how the strings are laid out in memory.
		if Match(filter, topic) != Match(string([]byte(filter)), string([]byte(topic))) {
			t.Errorf("Match(%q, %q) is not stable", filter, topic)
		}
		// A string matches itself as a filter, and "#" matches every topic
		// not starting with '$'.
		if !Match(topic, topic) {
			t.Errorf("Match(%q, itself) = false", topic)
		}
		if len(topic) > 0 && topic[0] != '$' && !Match("#", topic) {
			t.Errorf(`Match("#", %q) = false`, topic)
		}
		// "+" matches exactly the one-level topics.
		if len(topic) > 0 && topic[0] != '$' && Match("+", topic) == strings.Contains(topic, "/") {
			t.Errorf(`Match("+", %q) = %v`, topic, Match("+", topic))
		}
	})
}

// message writes topic and data into a region as the host does and
// returns their addresses.
func message(t testing.TB, topic, data string) (unsafe.Pointer, int32, unsafe.Pointer, int32) {
	p := allocRegion(int32(len(topic) + len(data)))
	r := unsafe.Slice((*byte)(p), len(topic)+len(data))
	copy(r, topic)
	copy(r[len(topic):], data)
	return p, int32(len(topic)), unsafe.Add(p, len(topic)), int32(len(data))
}

func TestDispatchMessage(t *testing.T) {
	t.Cleanup(func() { messageHandler = nil })
	var gotTopics []string
	var gotData []string
	OnMessage(func(topic string, data []byte) error {
		gotTopics = append(gotTopics, topic) // kept: must stay valid
		gotData = append(gotData, string(data))
		switch string(data) {
		case "fail":
			return errors.New("bad payload")
		case "panic":
			panic("boom")
		}
		return nil
	})
	cases := []struct {
		topic, data string
		want        int32
	}{
		{"sensors/s1/temperature", "21.5", 0},
		{"sensors/s2/temperature", "fail", 1},
		{"sensors/s3/temperature", "panic", 2},
		{"sensors/s1/temperature", "", 0},
	}
	for _, c := range cases {
		if rc := dispatchMessage(message(t, c.topic, c.data)); rc != c.want {
			t.Errorf("dispatch(%q, %q) = %d, want %d", c.topic, c.data, rc, c.want)
		}
		// The host reuses the region: scribble over it.
		for i := range region {
			region[i] = 'X'
		}
	}
	for i, c := range cases {
		if gotTopics[i] != c.topic || gotData[i] != c.data {
			t.Errorf("message %d: handler saw (%q, %q), want (%q, %q)", i, gotTopics[i], gotData[i], c.topic, c.data)
		}
	}
}

func TestDispatchWithoutHandlers(t *testing.T) {
	messageHandler, tickHandler = nil, nil
	if rc := dispatchMessage(message(t, "a/b", "x")); rc != 0 {
		t.Errorf("dispatchMessage without handler = %d, want 0", rc)
	}
	if rc := dispatchTick(); rc != 0 {
		t.Errorf("dispatchTick without handler = %d, want 0", rc)
	}
}

func TestDispatchTick(t *testing.T) {
	t.Cleanup(func() { tickHandler = nil })
	for _, c := range []struct {
		name string
		h    func() error
		want int32
	}{
		{"ok", func() error { return nil }, 0},
		{"error", func() error { return errors.New("nope") }, 1},
		{"panic", func() error { panic("boom") }, 2},
	} {
		OnTick(c.h)
		if rc := dispatchTick(); rc != c.want {
			t.Errorf("%s: dispatchTick = %d, want %d", c.name, rc, c.want)
		}
	}
}

func TestDispatchMessageAllocatesNothing(t *testing.T) {
	t.Cleanup(func() { messageHandler = nil })
	var n int
	OnMessage(func(topic string, data []byte) error { n += len(topic) + len(data); return nil })
	tp, tl, dp, dl := message(t, "sensors/s1/temperature", `{"value":21.5}`)
	dispatchMessage(tp, tl, dp, dl) // interns the topic
	allocs := testing.AllocsPerRun(100, func() { dispatchMessage(tp, tl, dp, dl) })
	if allocs != 0 {
		t.Errorf("dispatchMessage allocates %v times per message, want 0", allocs)
	}
	if n == 0 {
		t.Error("handler never ran")
	}
}

func TestAllocRegion(t *testing.T) {
	if p := allocRegion(-1); p != nil {
		t.Errorf("allocRegion(-1) = %p, want nil", p)
	}
	for _, size := range []int32{0, 1, 300, 1 << 16} {
		p := allocRegion(size)
		if p == nil || len(region) < int(size) || unsafe.Pointer(&region[0]) != p {
			t.Errorf("allocRegion(%d): %p, region of %d bytes", size, p, len(region))
		}
	}
}

// hostValue simulates the host side of kv_get/config_get: it copies the
// value only if it fits and returns its length either way. grow makes the
// value longer after the first call, as a concurrent writer on the host
// would.
type hostValue struct {
	value []byte
	grow  int
	calls int
}

func (h *hostValue) get(keyPtr unsafe.Pointer, keyLen int32, bufPtr unsafe.Pointer, bufCap int32) int32 {
	h.calls++
	n := len(h.value)
	if n <= int(bufCap) {
		copy(unsafe.Slice((*byte)(bufPtr), bufCap), h.value)
	}
	if h.calls == 1 {
		h.value = append(h.value, make([]byte, h.grow)...)
	}
	return int32(n)
}

func TestFetchValue(t *testing.T) {
	big := make([]byte, 5000)
	for i := range big {
		big[i] = byte(i)
	}
	cases := []struct {
		name      string
		value     []byte
		grow      int
		wantCalls int
	}{
		{"empty", []byte{}, 0, 1},
		{"small", []byte("21.5"), 0, 1},
		{"exactly scratch", big[:len(scratch)], 0, 1},
		{"large", big, 0, 2},
		{"grows once", big[:1000], 10, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &hostValue{value: append([]byte(nil), c.value...), grow: c.grow}
			got, err := fetchValue(h.get, "k")
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte{}, c.value...), make([]byte, c.grow)...)
			if string(got) != string(want) || got == nil {
				t.Errorf("got %d bytes, want %d", len(got), len(want))
			}
			if h.calls != c.wantCalls {
				t.Errorf("%d host calls, want %d", h.calls, c.wantCalls)
			}
		})
	}
	t.Run("keeps growing", func(t *testing.T) {
		h := &hostValue{value: append([]byte(nil), big[:1000]...)}
		// Grow before every call: fetchValue never catches up and gives up.
		grow := func(kp unsafe.Pointer, kl int32, bp unsafe.Pointer, bc int32) int32 {
			h.value = append(h.value, make([]byte, 100)...)
			return h.get(kp, kl, bp, bc)
		}
		if _, err := fetchValue(grow, "k"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
		if h.calls != 1+maxGetTries {
			t.Errorf("%d host calls, want %d", h.calls, 1+maxGetTries)
		}
	})
	t.Run("error", func(t *testing.T) {
		notFound := func(unsafe.Pointer, int32, unsafe.Pointer, int32) int32 { return int32(ErrNotFound) }
		if _, err := fetchValue(notFound, "k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestOutsideATask(t *testing.T) {
	if err := Publish("a/b", []byte("x")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Publish = %v, want ErrUnavailable", err)
	}
	if _, err := KV.Get("k"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("KV.Get = %v, want ErrUnavailable", err)
	}
	if err := KV.Set("k", nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("KV.Set = %v, want ErrUnavailable", err)
	}
	if v, ok := Config("k"); ok || v != "" {
		t.Errorf("Config = %q, %v; want nothing", v, ok)
	}
	if got := ConfigOr("k", "def"); got != "def" {
		t.Errorf("ConfigOr = %q, want def", got)
	}
}

func TestStableTopic(t *testing.T) {
	t.Cleanup(func() { topicTable, topicCount = [topicSlots]string{}, 0 })
	buf := []byte("sensors/s1/temperature")
	a := stableTopic(unsafe.String(&buf[0], len(buf)))
	buf[8] = 'X' // the host reuses the region
	if a != "sensors/s1/temperature" {
		t.Fatalf("interned topic changed with the region: %q", a)
	}
	b := stableTopic("sensors/s1/temperature")
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the same topic was copied twice")
	}
	// Past maxTopics, topics are still returned correctly, copied each time.
	for i := range maxTopics + 100 {
		topic := fmt.Sprintf("t/%d", i)
		if got := stableTopic(topic); got != topic {
			t.Fatalf("stableTopic(%q) = %q", topic, got)
		}
	}
	if topicCount != maxTopics {
		t.Errorf("%d topics interned, want the bound %d", topicCount, maxTopics)
	}
	if got := stableTopic("sensors/s1/temperature"); got != "sensors/s1/temperature" {
		t.Errorf("after filling the table: %q", got)
	}
}

// BenchmarkDispatchMessage measures the SDK's share of a message delivery,
// natively: topic interning, the handler call and its panic guard. In a
// wasm build the same code runs several times slower; see
// examples/internal/sdkbench for the figure inside wasmhost.
func BenchmarkDispatchMessage(b *testing.B) {
	b.Cleanup(func() { messageHandler = nil })
	var n int
	OnMessage(func(topic string, data []byte) error { n += len(topic) + len(data); return nil })
	tp, tl, dp, dl := message(b, "sensors/s1/temperature", `{"sensor":"s1","value":21.5,"unit":"C","ts":1732550400}`)
	b.ReportAllocs()
	for b.Loop() {
		dispatchMessage(tp, tl, dp, dl)
	}
}

func TestParseConfigValue(t *testing.T) {
	parseInt := func(s string) (int, error) { v, err := strconv.ParseInt(s, 0, 64); return int(v), err }
	if v, err := parseConfigValue("window", "", false, 10, "an integer", parseInt); v != 10 || err != nil {
		t.Errorf("unset: %v, %v; want the default 10", v, err)
	}
	if v, err := parseConfigValue("window", "0x20", true, 10, "an integer", parseInt); v != 32 || err != nil {
		t.Errorf("0x20: %v, %v; want 32", v, err)
	}
	_, err := parseConfigValue("window", "ten", true, 10, "an integer", parseInt)
	if err == nil || err.Error() != `config window: "ten" is not an integer` {
		t.Errorf("bad value: err = %v", err)
	}
	// Outside a task nothing is set: the typed getters return defaults.
	if v, err := ConfigFloat("threshold", 30); v != 30 || err != nil {
		t.Errorf("ConfigFloat outside a task: %v, %v", v, err)
	}
	if v, err := ConfigDuration("every", time.Second); v != time.Second || err != nil {
		t.Errorf("ConfigDuration outside a task: %v, %v", v, err)
	}
}

// FuzzStableTopic checks the unsafe word-at-a-time hashing and the
// interning table: whatever the topic, the result equals it and survives
// the reuse of the memory it was read from.
func FuzzStableTopic(f *testing.F) {
	for _, s := range []string{"a", "sensors/s1/temperature", "12345678", "123456789", "\x00\xff", strings.Repeat("x/", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if topic == "" {
			return // dispatchMessage never interns the empty topic
		}
		buf := []byte(topic)
		got := stableTopic(unsafe.String(&buf[0], len(buf)))
		for i := range buf {
			buf[i] ^= 0xff
		}
		if got != topic {
			t.Fatalf("stableTopic(%q) = %q", topic, got)
		}
		if again := stableTopic(topic); again != topic {
			t.Fatalf("second stableTopic(%q) = %q", topic, again)
		}
	})
}
