//go:build ignore

// gen rebuilds the prebuilt modules in wasm/ from src/ with clang.
package main

import (
	"log"

	"github.com/canopy-fleet/canopy/wasmhost/testmodules"
)

func main() {
	for _, n := range testmodules.Names() {
		if err := testmodules.BuildC("src", n, "wasm/"+n+".wasm"); err != nil {
			log.Fatal(err)
		}
	}
}
