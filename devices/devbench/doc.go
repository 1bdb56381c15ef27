// Package devbench measures the devices layer end to end, for `canopy
// bench devices` and the Go benchmarks: the sensor → broker → task handler
// → publish pipeline through the embedded broker against the same work on
// mosquitto with a plain paho subscriber, durable outbox appends against
// badger without group commit, and the cost of probing.
package devbench
