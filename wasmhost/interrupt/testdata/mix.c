// A command module for the differential tests: a little of everything
// clang emits (loops, recursion, br_table, indirect calls, libc string and
// float formatting, 64-bit and float math), printed to stdout.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b) {
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static unsigned ackermann(unsigned m, unsigned n) {
	if (m == 0) return n + 1;
	if (n == 0) return ackermann(m - 1, 1);
	return ackermann(m - 1, ackermann(m, n - 1));
}

static int op(int kind, int a, int b) {
	switch (kind) {
	case 0: return a + b;
	case 1: return a - b;
	case 2: return a * b;
	case 3: return b ? a / b : 0;
	case 4: return a ^ b;
	case 5: return a << (b & 7);
	default: return -1;
	}
}

typedef double (*unary)(double);
static double twice(double x) { return 2 * x; }
static double square(double x) { return x * x; }
static double halve(double x) { return x / 2; }

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "spin") == 0) {
		volatile unsigned long n = 0;
		for (;;) n++;
	}
	enum { N = 20000 };
	static char sieve[N];
	int primes = 0;
	for (int i = 2; i < N; i++) {
		if (sieve[i]) continue;
		primes++;
		for (int j = 2 * i; j < N; j += i) sieve[j] = 1;
	}
	printf("primes below %d: %d\n", N, primes);

	static int v[5000];
	uint32_t seed = 12345;
	for (int i = 0; i < 5000; i++) {
		seed = seed * 1103515245u + 12345u;
		v[i] = (int)(seed >> 8) % 100000;
	}
	qsort(v, 5000, sizeof v[0], cmp_int);
	printf("sorted: %d %d %d\n", v[0], v[2500], v[4999]);

	printf("ackermann(2, 300) = %u\n", ackermann(2, 300));

	int acc = 1;
	for (int i = 0; i < 1000; i++) acc = op(i % 7, acc, i) & 0xffff;
	printf("ops: %d\n", acc);

	unary fs[] = {twice, square, halve};
	double x = 1.5;
	for (int i = 0; i < 30; i++) x = fs[i % 3](x) + 0.25;
	printf("floats: %.6g %.3e\n", x, x / 3);

	char buf[256];
	memset(buf, 'a', sizeof buf);
	memcpy(buf + 10, "canopy", 6);
	buf[255] = 0;
	printf("strings: %zu %.20s\n", strlen(buf), buf);

	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 100000; i++) h = (h ^ (uint64_t)i) * 1099511628211ull;
	printf("fnv: %llx\n", (unsigned long long)h);

	int64_t conv = 0;
	for (int i = 0; i < 100; i++) conv += (int64_t)(i * 1.7e9 / 3.0);
	printf("conv: %lld\n", (long long)conv);
	return primes == 2262 ? 0 : 3;
}
