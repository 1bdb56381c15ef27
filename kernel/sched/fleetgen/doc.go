// Package fleetgen generates realistic synthetic fleets for the scheduler's
// property tests and benchmarks: controllers, gateways (some nested) grouped
// into sites, leaves of mixed device profiles (Pi Zero to x86 boxes, some
// with GPIO, cameras, GPUs or NPUs), attached sensors publishing MQTT
// topics, a measured latency graph (every link plus a few neighbours per
// leaf), live load and temperature, nodes down or drained, and tasks of
// existing deployments with measured usage. It also generates workloads of
// deployments to place.
//
// Everything is a pure function of a seed and the time passed in.
package fleetgen
