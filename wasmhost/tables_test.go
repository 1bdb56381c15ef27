package wasmhost

import (
	"context"
	"strings"
	"testing"
)

// wasmSection encodes one section: id, size, content.
func wasmSection(id byte, content ...byte) []byte {
	return append(append([]byte{id}, uleb(uint32(len(content)))...), content...)
}

func uleb(v uint32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

// tableModule is a hand-assembled task with one funcref table (min
// elements, no max) and an export grow(n) that runs table.grow with n null
// references and returns its result.
func tableModule(min uint32) []byte {
	var b []byte
	b = append(b, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00)
	b = append(b, wasmSection(1, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f)...) // () -> i32, (i32) -> i32
	b = append(b, wasmSection(3, 0x02, 0x00, 0x01)...)
	b = append(b, wasmSection(4, append([]byte{0x01, 0x70, 0x00}, uleb(min)...)...)...) // funcref, no max
	b = append(b, wasmSection(5, 0x01, 0x00, 0x01)...)
	exp := []byte{0x03, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00}
	exp = append(exp, 0x12)
	exp = append(exp, ExportABIVersion...)
	exp = append(exp, 0x00, 0x00, 0x04, 'g', 'r', 'o', 'w', 0x00, 0x01)
	b = append(b, wasmSection(7, exp...)...)
	b = append(b, wasmSection(10, 0x02,
		0x04, 0x00, 0x41, 0x01, 0x0b, // i32.const 1
		0x09, 0x00, 0xd0, 0x70, 0x20, 0x00, 0xfc, 0x0f, 0x00, 0x0b, // ref.null func, local.get 0, table.grow 0
	)...)
	return b
}

// TestTableGrowthBounded: a task cannot grow its tables without bound (each
// element is 8 bytes of host memory outside the memory limit; table.grow
// of 0xFFFFFFF0 would ask Go for 32GiB and end the process), nor declare
// a huge table at start.
func TestTableGrowthBounded(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	m, err := h.Load(ctx, tableModule(1))
	if err != nil {
		t.Fatal(err)
	}
	i, err := h.Instantiate(ctx, m, TaskConfig{ID: "tables"})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close(ctx)
	if r, err := i.Call(ctx, "grow", 10); err != nil || int32(r[0]) != 1 {
		t.Fatalf("grow(10) = %v, %v: want 1 (a small growth is allowed)", r, err)
	}
	// 2M elements (16MiB of host memory) is past the bound: refused with
	// -1 as by a declared maximum. The same goes for anything larger.
	if r, err := i.Call(ctx, "grow", 2<<20); err != nil || int32(r[0]) != -1 {
		t.Fatalf("grow(2M) = %v, %v: want -1", r, err)
	}
	if r, err := i.Call(ctx, "grow", 0); err != nil || int32(r[0]) != 11 {
		t.Fatalf("table size = %v, %v: want 11", r, err)
	}

	_, err = h.Load(ctx, tableModule(2<<20))
	if err == nil || !strings.Contains(err.Error(), "table 0") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Load of a 2M-element table: %v, want a one-line error naming table 0", err)
	}
}
