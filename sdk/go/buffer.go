package canopy

import "unsafe"

// getFunc is the shape of the host calls that copy a value into a guest
// buffer: they return the value's full length and copy it only if it fits.
type getFunc func(keyPtr unsafe.Pointer, keyLen int32, bufPtr unsafe.Pointer, bufCap int32) int32

// scratch receives values before they are copied out at their exact size, so
// that a read costs one host call and one allocation when the value is
// small. Handlers never run concurrently, so one buffer suffices.
var scratch [512]byte

// maxGetTries bounds the retries of fetchValue when the value keeps growing
// between the call that measured it and the call that copies it.
const maxGetTries = 4

// fetchValue calls get for key and returns a fresh copy of the value. The
// first call goes into scratch; a longer value is fetched again into a
// buffer of the length the host reported.
func fetchValue(get getFunc, key string) ([]byte, error) {
	kp, kl := unsafe.Pointer(unsafe.StringData(key)), int32(len(key))
	n := get(kp, kl, unsafe.Pointer(&scratch[0]), int32(len(scratch)))
	if n < 0 {
		return nil, Code(n)
	}
	if int(n) <= len(scratch) {
		return append(make([]byte, 0, n), scratch[:n]...), nil
	}
	for range maxGetTries {
		buf := make([]byte, n)
		m := get(kp, kl, unsafe.Pointer(&buf[0]), n)
		if m < 0 {
			return nil, Code(m)
		}
		if m <= n {
			return buf[:m], nil
		}
		n = m // it grew in between; try again at the new size
	}
	return nil, ErrUnavailable
}
