// Package canopy is the guest SDK for Canopy tasks written in Go: the task's
// side of the Canopy task ABI, version 1 (CONTRACT.md, "Task ABI").
//
// A task is a WebAssembly module that Canopy runs in a sandbox on a device. It
// receives the MQTT messages its manifest subscribes to, is woken every tick,
// may publish to the topics its manifest grants, keeps a small key-value
// store that survives restarts, and reads the config values of its manifest.
// Nothing else exists for it: no files, sockets or environment unless granted.
//
// # Services
//
// A service is resident: Canopy starts it once and then calls its handlers
// for every message and every tick. Build it as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o task.wasm .
//
// In a reactor the Go runtime initializes the program's packages (their
// init functions run) but func main is never called. It is still required by
// the compiler and may be empty. Register the handlers from an init function:
//
//	package main
//
//	import canopy "github.com/canopy-fleet/canopy/sdk/go"
//
//	func init() {
//		canopy.OnMessage(func(topic string, data []byte) error {
//			canopy.Info("got", "topic", topic, "bytes", len(data))
//			return canopy.Publish("echo/"+topic, data)
//		})
//	}
//
//	func main() {}
//
// Config values, key-value reads, logging and publishing all work from init
// already, so a task typically reads and validates its config there. On a
// bad value it logs the error and panics: the start fails and Canopy
// reports it, rather than running a task that does the wrong thing.
//
// # Jobs
//
// A job runs to completion. Build it as an ordinary WASI command, without
// -buildmode=c-shared; Canopy calls _start, which runs init functions and
// then main. Everything in this package except the handlers works the same;
// OnMessage and OnTick handlers are never called in a job. (The Go runtime
// of a command starts in _start, so a host must not call the module's
// exports before it; Canopy does not.)
//
// # Handlers and memory
//
// Canopy calls the handlers one at a time, never concurrently, on the task's
// only thread. To deliver a message the host asks the task for a region of
// its memory (the canopy_alloc export, implemented here), writes the topic and
// the payload into it and calls the message handler. The host may reuse that
// region for the next message, so:
//
//   - the topic string passed to a handler is safe to keep (the SDK hands out
//     a stable copy, interned so that a steady set of topics costs no
//     allocation per message);
//   - the data slice is borrowed: it is valid only until the handler
//     returns. Copy what you keep with bytes.Clone or string(data).
//
// Delivering a message allocates nothing in the SDK; what a handler allocates
// is its own business.
//
// A handler that returns an error, or panics, has failed for this message:
// the SDK logs the error at error level and reports the failure to the host
// (result 1 for an error, 2 for a panic), which counts it. The task keeps running and gets the
// next message; a panic does not kill it.
//
// # Errors
//
// Host calls fail with one of the [Code] values ([ErrNotPermitted],
// [ErrRateLimited], [ErrTooLarge], [ErrInvalidArgument], [ErrNotFound],
// [ErrQuotaExceeded], [ErrUnavailable]); test them with errors.Is.
//
// # Outside a task
//
// The package compiles for every GOOS so that go vet, go doc and unit tests
// of a task's own logic work on a development machine. Outside a WebAssembly
// task (GOOS other than wasip1) there is no host: Publish, KV and Config
// report [ErrUnavailable] (Config reports not found), logging goes to the
// process's standard error, and handlers are registered but never called.
//
// # Output
//
// What a task writes to standard output and standard error becomes its log
// lines too, so fmt.Println and a log/slog TextHandler on os.Stderr work;
// prefer [Info] and friends, which carry the level and cost one host call
// per line.
package canopy
