package canopy

import "unsafe"

// Publish sends data to topic. The topic must be a concrete MQTT topic name
// (no + or # wildcards) matched by one of the publish: filters of the task's
// manifest.
//
// Publish copies data before it returns, so the slice may be reused at once,
// and it allocates nothing. It fails with:
//
//   - [ErrNotPermitted] if the manifest does not grant the topic;
//   - [ErrRateLimited] if the task is over its publishRate limit (the message
//     is dropped, not queued). Stop publishing for a while: a task that
//     keeps publishing after ErrRateLimited is stopped by the host for
//     flooding;
//   - [ErrTooLarge] if data is larger than the publishSize limit;
//   - [ErrInvalidArgument] if the topic is empty, not UTF-8, or has wildcards;
//   - [ErrUnavailable] outside a task.
//
// Success means the host accepted the message for delivery, not that any
// subscriber received it.
func Publish(topic string, data []byte) error {
	return result(hostPublish(
		unsafe.Pointer(unsafe.StringData(topic)), int32(len(topic)),
		unsafe.Pointer(unsafe.SliceData(data)), int32(len(data))))
}

// PublishString is [Publish] for a string payload, without copying it.
func PublishString(topic, data string) error {
	return result(hostPublish(
		unsafe.Pointer(unsafe.StringData(topic)), int32(len(topic)),
		unsafe.Pointer(unsafe.StringData(data)), int32(len(data))))
}
