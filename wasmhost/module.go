package wasmhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/canopy-fleet/canopy/wasmhost/interrupt"
)

// ABIVersion is the task ABI version this host implements (CONTRACT.md).
const ABIVersion = 1

// Names of the exports the host calls (CONTRACT.md, "Task ABI, version 1").
const (
	ExportABIVersion = "canopy_abi_version"
	ExportAlloc      = "canopy_alloc"
	ExportOnMessage  = "canopy_on_message"
	ExportOnTick     = "canopy_on_tick"
	ExportInitialize = "_initialize"
	ExportStart      = "_start"
	ExportMemory     = "memory"
)

// Module is a validated, instrumented and compiled task module. It is safe
// for concurrent use: many instances may be made from one Module.
type Module struct {
	host     *Host
	digest   string
	compiled wazero.CompiledModule
	minPages uint32
	command  bool // exports _start
	reactor  bool // exports _initialize
	exports  map[string]api.FunctionDefinition

	abiChecked atomic.Bool // canopy_abi_version returned 1 once
}

// Digest is the sha256 of the module's original bytes, in hex.
func (m *Module) Digest() string { return m.digest }

// IsCommand reports whether the module is a WASI command (exports _start):
// it can run as a job. Otherwise it is a reactor and can run as a service.
func (m *Module) IsCommand() bool { return m.command }

// Exports reports whether the module exports a function named name, e.g.
// ExportOnMessage: a runner can refuse subscriptions a module cannot serve.
func (m *Module) Exports(name string) bool {
	_, ok := m.compiled.ExportedFunctions()[name]
	return ok
}

// MinMemory is the linear memory the module needs at instantiation.
func (m *Module) MinMemory() uint64 { return uint64(m.minPages) << 16 }

// Close releases the compiled code (the on-disk cache keeps it). Instances
// made from the module must be closed first.
func (m *Module) Close(ctx context.Context) error { return m.compiled.Close(ctx) }

// Load validates a task module, instruments it for CPU budgets and compiles
// it. The instrumented bytes are cached on disk by the digest of the
// original, and the compiled code by wazero's compilation cache, so a second
// Load of the same module, even in another process sharing CacheDir, neither
// rewrites nor recompiles it.
//
// Load refuses, with a one-line error naming the problem: bytes that are not
// a wasm core module or are truncated; a start section; imports from any module but
// wasi_snapshot_preview1 and canopy, or of a function neither provides; a
// missing or mistyped canopy_abi_version export; a missing memory export;
// mistyped canopy_alloc, canopy_on_message, canopy_on_tick, _initialize or
// _start exports; tables that need more than MaxTableElements at start.
// Tables are given maxima so that they never hold more than that in all.
func (h *Host) Load(ctx context.Context, wasm []byte) (*Module, error) {
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	info, err := scanModule(wasm)
	if err != nil {
		return nil, fmt.Errorf("invalid wasm module: %w", err)
	}
	if err := h.checkImports(info.imports); err != nil {
		return nil, err
	}
	if info.start {
		// A start function runs inside instantiation, before the host can
		// watch it: a loop there would hang Instantiate.
		return nil, errors.New("invalid task module: it has a start section (run code from _initialize or _start instead)")
	}
	var compiled wazero.CompiledModule
	code, cached, err := h.instrumented(digest, wasm, true)
	if err != nil {
		return nil, err
	}
	// Tables are bounded on every load, cached or not (a cache written
	// before the bound existed must not skip it).
	bounded, err := boundTables(code)
	if err != nil && !cached {
		return nil, err
	}
	if err == nil {
		compiled, err = h.rt.CompileModule(ctx, bounded)
	}
	if err != nil && cached {
		// A damaged cache file must not make a good module fail: rewrite.
		h.log.Warn("cached instrumented module does not compile; rewriting it", "digest", digest, "err", err)
		if code, _, err = h.instrumented(digest, wasm, false); err != nil {
			return nil, err
		}
		if code, err = boundTables(code); err != nil {
			return nil, err
		}
		compiled, err = h.rt.CompileModule(ctx, code)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid wasm module: %w", oneLine(err))
	}
	m := &Module{host: h, digest: digest, compiled: compiled, exports: compiled.ExportedFunctions()}
	if err := m.checkExports(); err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	return m, nil
}

// instrumented returns the module rewritten by interrupt.Instrument, from
// the disk cache (if useCache) when it was rewritten before; cached says
// which.
func (h *Host) instrumented(digest string, wasm []byte, useCache bool) (code []byte, cached bool, err error) {
	var path string
	if h.cfg.CacheDir != "" {
		// Keyed by the instrumentation's version too: a rewrite by another
		// version (an older canopy on the same CacheDir) must not be run.
		path = filepath.Join(h.cfg.CacheDir, "instrumented", digest+".v"+interrupt.Version+".wasm")
		if b, err := os.ReadFile(path); err == nil && useCache {
			return b, true, nil
		}
	}
	code, err = interrupt.Instrument(wasm)
	if err != nil {
		if errors.Is(err, interrupt.ErrAlreadyInstrumented) {
			return nil, false, fmt.Errorf("invalid task module: exports %s, %s or %s, names the host reserves", interrupt.ExportName, interrupt.StartExportName, interrupt.DepthExportName)
		}
		return nil, false, fmt.Errorf("invalid wasm module: %w", oneLine(err))
	}
	if path != "" {
		tmp, err := os.CreateTemp(filepath.Dir(path), digest+".*.tmp")
		if err == nil {
			_, werr := tmp.Write(code)
			cerr := tmp.Close()
			if werr == nil && cerr == nil {
				err = os.Rename(tmp.Name(), path)
			}
			if werr != nil || cerr != nil || err != nil {
				os.Remove(tmp.Name())
				h.log.Warn("cannot cache instrumented module", "digest", digest, "err", errors.Join(werr, cerr, err))
			}
		}
	}
	return code, false, nil
}

// checkImports refuses imports the host does not provide, naming the first.
func (h *Host) checkImports(imps []wasmImport) error {
	for _, im := range imps {
		name := printName(im.Module) + "." + printName(im.Name)
		switch im.Module {
		case "wasi_snapshot_preview1", abiModule:
		default:
			return fmt.Errorf("module imports %s (%s): only wasi_snapshot_preview1 and %s may be imported", name, im.Kind, abiModule)
		}
		if im.Kind != "function" {
			return fmt.Errorf("module imports %s (%s): only functions may be imported", name, im.Kind)
		}
		if _, ok := h.rt.Module(im.Module).ExportedFunctionDefinitions()[im.Name]; !ok {
			return fmt.Errorf("module imports %s: no such function in %s", name, im.Module)
		}
	}
	return nil
}

// printName is a name from a module as it may appear in a one-line error:
// as it is if it is printable text without spaces, else quoted (a name may
// hold any bytes, newlines and terminal escapes included).
func printName(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

var (
	sigVoid      = signature{}
	sigI32       = signature{results: []api.ValueType{api.ValueTypeI32}}
	sigAlloc     = signature{params: []api.ValueType{api.ValueTypeI32}, results: []api.ValueType{api.ValueTypeI32}}
	sigOnMessage = signature{params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, results: []api.ValueType{api.ValueTypeI32}}
)

type signature struct{ params, results []api.ValueType }

func (s signature) String() string {
	return fmt.Sprintf("(%s) -> (%s)", typeList(s.params), typeList(s.results))
}

func typeList(ts []api.ValueType) string {
	out := ""
	for i, t := range ts {
		if i > 0 {
			out += ", "
		}
		out += api.ValueTypeName(t)
	}
	return out
}

func (s signature) matches(d api.FunctionDefinition) bool {
	return equalTypes(s.params, d.ParamTypes()) && equalTypes(s.results, d.ResultTypes())
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkExports checks the exports the host calls.
func (m *Module) checkExports() error {
	if _, ok := m.exports[ExportABIVersion]; !ok {
		return fmt.Errorf("not a canopy task: missing export %s (build with sdk/go or sdk/c)", ExportABIVersion)
	}
	for name, sig := range map[string]signature{
		ExportABIVersion: sigI32, ExportAlloc: sigAlloc, ExportOnMessage: sigOnMessage,
		ExportOnTick: sigI32, ExportInitialize: sigVoid, ExportStart: sigVoid,
	} {
		if d, ok := m.exports[name]; ok && !sig.matches(d) {
			return fmt.Errorf("export %s has type (%s) -> (%s), want %s", name,
				typeList(d.ParamTypes()), typeList(d.ResultTypes()), sig)
		}
	}
	mem, ok := m.compiled.ExportedMemories()[ExportMemory]
	if !ok {
		return fmt.Errorf("not a canopy task: missing export %q (linear memory)", ExportMemory)
	}
	m.minPages = mem.Min()
	_, m.command = m.exports[ExportStart]
	_, m.reactor = m.exports[ExportInitialize]
	if _, ok := m.exports[ExportOnMessage]; ok {
		if _, ok := m.exports[ExportAlloc]; !ok {
			return fmt.Errorf("export %s needs export %s", ExportOnMessage, ExportAlloc)
		}
	}
	return nil
}

// oneLine wraps err so that its message is one line: wazero's validation
// errors put details on indented lines ("not enough results\n\thave
// ()\n\twant (i32)"), and an error of canopy's is one line first.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	msg = strings.ReplaceAll(msg, "\r", "")
	msg = strings.ReplaceAll(msg, "\n\t", ", ")
	msg = strings.ReplaceAll(msg, "\n", "; ")
	return &oneLineError{msg: msg, err: err}
}

type oneLineError struct {
	msg string
	err error
}

func (e *oneLineError) Error() string { return e.msg }
func (e *oneLineError) Unwrap() error { return e.err }
