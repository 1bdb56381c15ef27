// Package supervise keeps one Canopy task running: it instantiates the task
// from a loaded wasmhost.Module, feeds it messages from a bounded queue and
// ticks from a clock on one goroutine, records why each run ended, and
// restarts a failed task with exponential backoff and jitter according to
// its restart policy (always, on-failure, never).
//
// Time and randomness are injected (Config.Clock, Config.Rand) so the
// backoff is tested fast and deterministically.
package supervise
