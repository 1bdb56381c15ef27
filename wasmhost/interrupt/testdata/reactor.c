// A reactor module for the differential tests: exported functions the test
// calls with arguments and compares.
#include <stdint.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))

static uint8_t buf[1 << 16];

EXPORT("fib") uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

EXPORT("collatz") uint32_t collatz(uint64_t n) {
	uint32_t steps = 0;
	while (n > 1) {
		n = (n & 1) ? 3 * n + 1 : n / 2;
		steps++;
	}
	return steps;
}

EXPORT("fill") void fill(uint32_t seed, uint32_t len) {
	if (len > sizeof buf) len = sizeof buf;
	for (uint32_t i = 0; i < len; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		buf[i] = (uint8_t)seed;
	}
}

EXPORT("crc32") uint32_t crc32(uint32_t len) {
	if (len > sizeof buf) len = sizeof buf;
	uint32_t c = 0xffffffffu;
	for (uint32_t i = 0; i < len; i++) {
		c ^= buf[i];
		for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

EXPORT("histogram") uint64_t histogram(uint32_t len) {
	uint32_t counts[256];
	memset(counts, 0, sizeof counts);
	if (len > sizeof buf) len = sizeof buf;
	for (uint32_t i = 0; i < len; i++) counts[buf[i]]++;
	uint64_t h = 0;
	for (int i = 0; i < 256; i++) h = h * 31 + counts[i];
	return h;
}

EXPORT("dot") double dot(uint32_t n) {
	static float a[1024], b[1024];
	if (n > 1024) n = 1024;
	for (uint32_t i = 0; i < n; i++) {
		a[i] = (float)buf[i] / 7.0f;
		b[i] = (float)buf[n - 1 - i] * 0.5f;
	}
	float s = 0;
	for (uint32_t i = 0; i < n; i++) s += a[i] * b[i];
	return s;
}

EXPORT("spin") void spin(void) {
	volatile uint32_t n = 0;
	for (;;) n++;
}
