package interrupt_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/canopy-fleet/canopy/wasmhost/interrupt"
)

// spinWasm is a module whose export "spin" loops forever:
// (func (export "spin") (loop (br 0))).
var spinWasm = []byte{
	0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
	0x03, 0x02, 0x01, 0x00, // function section
	0x07, 0x08, 0x01, 0x04, 's', 'p', 'i', 'n', 0x00, 0x00, // export "spin"
	0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // code
}

// A call with a time limit: instrument the module once (and cache the result
// with interrupt.Version in the key), then raise the flag when the call's
// context is done.
func Example() {
	ctx := context.Background()
	code, err := interrupt.Instrument(spinWasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, code)
	if err != nil {
		fmt.Println(err)
		return
	}
	flag, err := interrupt.NewFlag(mod)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A module with a start function exports it instead; run it like any call.
	if start := mod.ExportedFunction(interrupt.StartExportName); start != nil {
		start.Call(ctx)
	}

	callCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	stop := flag.RaiseWhenDone(callCtx)
	_, err = mod.ExportedFunction("spin").Call(callCtx)
	stop()
	cancel()
	fmt.Println("stopped by the time limit:", flag.Interrupted(err))
	flag.Reset()
	// Output: stopped by the time limit: true
}
