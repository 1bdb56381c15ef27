// Package sensorsim generates realistic sensor streams for simulated nodes
// and benchmarks: temperature with slow drift and occasional spikes,
// humidity that moves against temperature, vibration with bursts, and power
// draw that follows a duty cycle. A Generator is pure (seeded, no clock);
// Run paces one at a set rate and publishes until a count, a duration or
// ctx ends it.
package sensorsim
