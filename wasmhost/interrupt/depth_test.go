package interrupt

import (
	"context"
	"testing"
)

// depthModule has recursive functions that leave in each way a body can:
// falling off its end, return, and a branch to the function's label.
func depthModule() []byte {
	recurse := func(self byte) []byte { // local.get 0; i32.const 1; i32.sub; call self
		return []byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, self}
	}
	return testModule{
		types: [][]byte{functype(nil, nil), functype([]byte{tI32}, []byte{tI32})},
		funcs: []testFunc{
			// forever calls itself without end.
			{typ: 0, export: "forever", body: []byte{0x10, 0x00}},
			// down(n) = n == 0 ? 0 : down(n-1) + 1, leaving by its end.
			{typ: 1, export: "down", body: cat([]byte{0x20, 0x00, 0x45, 0x04, tI32}, i32const(0),
				[]byte{0x05}, recurse(1), i32const(1), []byte{0x6a, 0x0b})},
			// early(n) = n == 0 ? 7 : early(n-1), the base case by return.
			{typ: 1, export: "early", body: cat([]byte{0x20, 0x00, 0x45, 0x04, 0x40}, i32const(7),
				[]byte{0x0f, 0x0b}, recurse(2))},
			// branch(n) = n == 0 ? 5 : branch(n-1), the base case by br to the
			// function's label.
			{typ: 1, export: "branch", body: cat([]byte{0x20, 0x00, 0x45, 0x04, 0x40}, i32const(5),
				[]byte{0x0c, 0x01, 0x0b}, recurse(3))},
		},
	}.bytes()
}

func TestDepthLimit(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			mod, flag := instantiate(t, e.config(), depthModule())
			depth := mod.ExportedGlobal(DepthExportName)
			for _, c := range []struct {
				fn   string
				n    uint64
				want uint64
			}{{"down", 1000, 1000}, {"early", 1000, 7}, {"branch", 1000, 5}} {
				res, err := mod.ExportedFunction(c.fn).Call(ctx, c.n)
				if err != nil {
					t.Fatalf("%s(%d): %v", c.fn, c.n, err)
				}
				if res[0] != c.want {
					t.Fatalf("%s(%d) = %d, want %d", c.fn, c.n, res[0], c.want)
				}
				if d := depth.Get(); d != 0 {
					t.Fatalf("depth after %s(%d) returned = %d, want 0", c.fn, c.n, d)
				}
			}
			if e.name == "interpreter" {
				return // it stops calls 2,000 deep itself ("stack overflow")
			}
			if res, err := mod.ExportedFunction("down").Call(ctx, MaxDepth-1); err != nil || res[0] != MaxDepth-1 || depth.Get() != 0 {
				t.Fatalf("down(MaxDepth-1) = %v, %v; depth %d", res, err, depth.Get())
			}
			for _, c := range []struct {
				fn   string
				args []uint64
			}{{"forever", nil}, {"down", []uint64{MaxDepth + 5}}} {
				_, err := mod.ExportedFunction(c.fn).Call(ctx, c.args...)
				if err == nil || !IsUnreachableTrap(err) {
					t.Fatalf("%s: %v, want the depth limit's trap", c.fn, err)
				}
				if !flag.DepthExceeded() || flag.Interrupted(err) {
					t.Fatalf("%s: depth exceeded %v, interrupted %v", c.fn, flag.DepthExceeded(), flag.Interrupted(err))
				}
				// The instance is unusable after a trap; a runtime starts a new
				// one. Reset the global here only to reuse this instance.
				depth.(interface{ Set(uint64) }).Set(0)
			}
		})
	}
}
