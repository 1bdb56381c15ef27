// bench is the small C task of the runtime benchmarks: a message handler
// that reads its payload, and a tight loop.
#include <stdlib.h>
#include "canopy_imports.h"

EXPORT("canopy_abi_version") int32_t abi_version(void) { return 1; }
EXPORT("canopy_alloc") void *alloc(int32_t size) { return malloc((size_t)size); }

static uint32_t sum;
EXPORT("canopy_on_message")
int32_t on_message(const char *t, int32_t tl, const unsigned char *d, int32_t dl) {
	if (dl > 0) sum += d[0] + d[dl - 1] + (uint32_t)tl;
	return 0;
}

// spin is a tight loop of n iterations the optimiser cannot remove.
EXPORT("spin") uint32_t spin(uint32_t n) {
	uint32_t x = 1;
	for (uint32_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

// fib is call-heavy code: the interrupt check sits at every function entry.
EXPORT("fib") uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
