package canopy

import "unsafe"

// KVStore is the task's key-value store: a small namespace of its own,
// kept on the device's disk by the host, that survives restarts and
// upgrades of the task on the same device. Its total size (keys plus values)
// is bounded by the kv limit of the manifest. Use the [KV] variable; the
// type exists only to hang the methods on.
//
// Keys are non-empty strings. Values are copied in both directions: a slice
// passed to Set may be reused after it returns, and Get returns a slice the
// caller owns.
type KVStore struct{}

// KV is the task's key-value store.
//
//	if err := canopy.KV.Set("count", []byte("42")); err != nil { ... }
//	v, err := canopy.KV.Get("count")
//	if errors.Is(err, canopy.ErrNotFound) { ... first run ... }
var KV KVStore

// Get returns a copy of the value stored under key, or [ErrNotFound] if
// there is none. An empty stored value is returned as an empty, non-nil
// slice. Other errors: [ErrInvalidArgument] for an empty key,
// [ErrUnavailable] outside a task or when the store is closed.
func (KVStore) Get(key string) ([]byte, error) {
	return fetchValue(hostKVGet, key)
}

// Set stores value under key, replacing any previous value. It fails with
// [ErrQuotaExceeded] if the store would grow past the task's kv limit (the
// previous value, if any, is kept), [ErrTooLarge] for a value larger than
// the host accepts in one entry, and [ErrInvalidArgument] for an empty key.
func (KVStore) Set(key string, value []byte) error {
	return result(hostKVSet(
		unsafe.Pointer(unsafe.StringData(key)), int32(len(key)),
		unsafe.Pointer(unsafe.SliceData(value)), int32(len(value))))
}

// Delete removes key. Deleting a key that does not exist is not an error.
func (KVStore) Delete(key string) error {
	err := result(hostKVDelete(unsafe.Pointer(unsafe.StringData(key)), int32(len(key))))
	if err == ErrNotFound {
		return nil
	}
	return err
}
