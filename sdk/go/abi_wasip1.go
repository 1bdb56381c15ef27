//go:build wasip1

package canopy

import "unsafe"

// The host functions of module "canopy" (task ABI version 1). Pointers are
// offsets into this module's memory 0; the host bounds-checks them and
// returns an error code instead of trapping.

//go:wasmimport canopy log
func hostLog(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport canopy publish
func hostPublish(topicPtr unsafe.Pointer, topicLen int32, dataPtr unsafe.Pointer, dataLen int32) int32

//go:wasmimport canopy kv_get
func hostKVGet(keyPtr unsafe.Pointer, keyLen int32, bufPtr unsafe.Pointer, bufCap int32) int32

//go:wasmimport canopy kv_set
func hostKVSet(keyPtr unsafe.Pointer, keyLen int32, valPtr unsafe.Pointer, valLen int32) int32

//go:wasmimport canopy kv_delete
func hostKVDelete(keyPtr unsafe.Pointer, keyLen int32) int32

//go:wasmimport canopy config_get
func hostConfigGet(keyPtr unsafe.Pointer, keyLen int32, bufPtr unsafe.Pointer, bufCap int32) int32
