//go:build !wasip1

package canopy

import (
	"os"
	"unsafe"
)

// Outside a WebAssembly task there is no host. These stand-ins let the
// package compile, vet and document on every platform; they do not pretend
// to be a host: every call that needs one reports ErrUnavailable, and log
// lines go to standard error so a task's logic can be exercised in an
// ordinary unit test.

func hostLog(level int32, ptr unsafe.Pointer, n int32) {
	line := make([]byte, 0, n+16)
	line = append(line, "canopy "...)
	line = append(line, Level(level).String()...)
	line = append(line, ' ')
	line = append(line, unsafe.String((*byte)(ptr), n)...)
	line = append(line, '\n')
	os.Stderr.Write(line)
}

func hostPublish(topicPtr unsafe.Pointer, topicLen int32, dataPtr unsafe.Pointer, dataLen int32) int32 {
	return int32(ErrUnavailable)
}

func hostKVGet(keyPtr unsafe.Pointer, keyLen int32, bufPtr unsafe.Pointer, bufCap int32) int32 {
	return int32(ErrUnavailable)
}

func hostKVSet(keyPtr unsafe.Pointer, keyLen int32, valPtr unsafe.Pointer, valLen int32) int32 {
	return int32(ErrUnavailable)
}

func hostKVDelete(keyPtr unsafe.Pointer, keyLen int32) int32 {
	return int32(ErrUnavailable)
}

func hostConfigGet(keyPtr unsafe.Pointer, keyLen int32, bufPtr unsafe.Pointer, bufCap int32) int32 {
	return int32(ErrNotFound)
}
