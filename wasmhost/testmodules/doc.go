// Package testmodules holds the guest modules that the wasmhost tests and
// the runtime benchmarks run: C sources built with clang
// (--target=wasm32-wasi, wasi-libc) and a small Go task, plus prebuilt copies
// of the C modules (made by go generate) for machines without clang.
package testmodules

//go:generate go run gen.go
