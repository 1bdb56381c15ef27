package canopy

import "unsafe"

// region is the memory most recently handed to the host by canopy_alloc.
// The host writes messages into it and may reuse it for later messages
// while it is big enough, so it must stay alive (this reference keeps the
// garbage collector from freeing it; Go's collector does not move objects)
// until the next canopy_alloc call replaces it.
var region []byte

// minRegion is the smallest region handed out, so that a host asking for a
// few bytes at a time does not come back for every slightly larger message.
const minRegion = 256

// allocRegion implements canopy_alloc: it returns the address of size
// usable bytes, or nil (address 0) for a negative size. The previous region
// is released.
func allocRegion(size int32) unsafe.Pointer {
	if size < 0 {
		return nil
	}
	region = make([]byte, max(int(size), minRegion))
	return unsafe.Pointer(unsafe.SliceData(region))
}
