//go:build wasip1

package canopy

import "unsafe"

// The exports the host calls (task ABI version 1).

// abiVersion is the task ABI version this SDK implements.
const abiVersion = 1

//go:wasmexport canopy_abi_version
func exportABIVersion() int32 { return abiVersion }

//go:wasmexport canopy_alloc
func exportAlloc(size int32) unsafe.Pointer { return allocRegion(size) }

//go:wasmexport canopy_on_message
func exportOnMessage(topicPtr unsafe.Pointer, topicLen int32, dataPtr unsafe.Pointer, dataLen int32) int32 {
	return dispatchMessage(topicPtr, topicLen, dataPtr, dataLen)
}

//go:wasmexport canopy_on_tick
func exportOnTick() int32 { return dispatchTick() }
