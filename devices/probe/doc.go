// Package probe measures what a node really is: its static facts (OS,
// architecture and ARM variant, CPU model, cores, frequency, memory, disk,
// board, kernel), the hardware attached to it (GPIO chips, I2C and SPI
// buses, serial ports, cameras, GPUs and NPUs), and live figures refreshed
// periodically (CPU and memory load, temperature, throttling).
//
// Facts come from gopsutil and from /proc, /sys and /dev under Config.Root,
// so tests can point the probe at a prepared tree; every value can also be
// overridden by Config.Override, so nothing downstream depends on the host
// a test runs on. The wasm benchmark score comes from a Scorer supplied by
// the caller (the command layer wires wasmhost in; devices may not import
// it).
package probe
