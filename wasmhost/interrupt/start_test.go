package interrupt

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// startModule has a start section naming function 0, which adds 1 to an
// exported global, or loops forever when spin is set.
func startModule(spin bool) []byte {
	body := []byte{0x23, 0x00, 0x41, 0x01, 0x6a, 0x24, 0x00} // g += 1
	if spin {
		body = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}
	}
	wasm := testModule{
		types:   [][]byte{functype(nil, nil)},
		globals: [][]byte{{tI32, 0x01, 0x41, 0x00, 0x0b}},
		exports: [][]byte{exportEntry("g", 0x03, 0)},
		funcs:   []testFunc{{typ: 0, body: body}},
	}.bytes()
	// The start section goes between export (7) and code (10).
	return insertStart(wasm)
}

func insertStart(wasm []byte) []byte {
	r := reader{b: wasm, pos: 8, end: len(wasm)}
	for !r.done() {
		at := r.pos
		id, _ := r.readByte()
		size, _ := r.u32()
		r.sub(size)
		if id == secCode {
			return cat(wasm[:at], section(secStart, []byte{0x00}), wasm[at:])
		}
	}
	panic("no code section")
}

func TestStartFunctionIsExported(t *testing.T) {
	ctx := context.Background()
	out, err := Instrument(startModule(false))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sections(t, out), ","); strings.Contains(got, "start") {
		t.Fatalf("instrumented module keeps its start section: %s", got)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	g := mod.ExportedGlobal("g")
	if g.Get() != 0 {
		t.Fatalf("g = %d after instantiation; the start function ran inside it", g.Get())
	}
	if _, err := mod.ExportedFunction(StartExportName).Call(ctx); err != nil {
		t.Fatal(err)
	}
	if g.Get() != 1 {
		t.Fatalf("g = %d after calling %s; want 1", g.Get(), StartExportName)
	}
}

func TestSpinningStartFunctionCanBeStopped(t *testing.T) {
	mod, flag := instantiate(t, wazero.NewRuntimeConfigCompiler(), startModule(true))
	callInterrupted(t, flag, mod.ExportedFunction(StartExportName))
}

func TestStartExportNameIsReserved(t *testing.T) {
	wasm := testModule{
		types: [][]byte{functype(nil, nil)},
		funcs: []testFunc{{typ: 0, export: StartExportName, body: []byte{0x01}}},
	}.bytes()
	if _, err := Instrument(wasm); err == nil || !strings.Contains(err.Error(), StartExportName) {
		t.Fatalf("Instrument of a module exporting %s: %v", StartExportName, err)
	}
}
