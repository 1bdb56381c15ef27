package canopy

import "strconv"

// Code is an error code of the task ABI: what a host call returns when it
// fails. Every Code is an error, and the exported ones are sentinels:
//
//	if errors.Is(err, canopy.ErrRateLimited) { ... }
//
// A Code the SDK does not know (from a newer host) is still returned as a
// Code, with a generic message.
type Code int32

// The error codes of the task ABI, version 1.
const (
	// ErrNotPermitted: the manifest does not grant this (for example a
	// publish to a topic not listed under publish:).
	ErrNotPermitted Code = -1
	// ErrRateLimited: the task published faster than its publishRate limit;
	// the message was dropped. Do not retry at once: a task that keeps
	// publishing after ErrRateLimited is stopped by the host for flooding.
	// Hold back (drop, or keep what is due for the next tick) for a while.
	ErrRateLimited Code = -2
	// ErrTooLarge: a payload, key or value is larger than the host accepts
	// (publishSize for publishes).
	ErrTooLarge Code = -3
	// ErrInvalidArgument: a bad argument, such as an empty key or a topic
	// that is not valid UTF-8 or contains MQTT wildcards.
	ErrInvalidArgument Code = -4
	// ErrNotFound: no such key (KV) or config value.
	ErrNotFound Code = -5
	// ErrQuotaExceeded: the write would take the task's key-value store past
	// its kv limit.
	ErrQuotaExceeded Code = -6
	// ErrUnavailable: the host cannot serve the call now (storage closed,
	// shutting down), or the program is not running inside a Canopy task.
	ErrUnavailable Code = -7
)

// Error returns a short lowercase description, e.g. "canopy: not found".
func (c Code) Error() string {
	switch c {
	case ErrNotPermitted:
		return "canopy: not permitted"
	case ErrRateLimited:
		return "canopy: rate limited"
	case ErrTooLarge:
		return "canopy: too large"
	case ErrInvalidArgument:
		return "canopy: invalid argument"
	case ErrNotFound:
		return "canopy: not found"
	case ErrQuotaExceeded:
		return "canopy: quota exceeded"
	case ErrUnavailable:
		return "canopy: unavailable"
	}
	return "canopy: error code " + strconv.Itoa(int(c))
}

// result turns the i32 a host call returned into an error: nil for zero or
// a positive value, a Code for a negative one.
func result(rc int32) error {
	if rc >= 0 {
		return nil
	}
	return Code(rc)
}
