// score is the workload of Canopy's wasm benchmark score (package
// wasmhost/score): three kernels, each exported as a call that runs n
// iterations and returns a checksum so the optimiser cannot drop the work.
//
//   score_int(n)   integer work: xorshift fill, sort, CRC-32 of 256 words
//   score_float(n) floating point: a 16x16 double matrix multiply
//   score_mem(n)   memory-bound: 16384 read-modify-writes at a 272-byte
//                  stride (4.4 MiB) through an 8 MiB buffer, past most
//                  L2 caches; 8 MiB is 2^21 words and 68 = 4*17, so the
//                  passes reach every word that is a multiple of 4
//
// The reference timings in reference.go belong to WORKLOAD_VERSION: change
// any kernel and bump it (and measure the reference again).
//
// Build: clang --target=wasm32-wasi -O2 -mexec-model=reactor (go generate).
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(name)))

#define WORKLOAD_VERSION 1

// A canopy task (CONTRACT.md, Task ABI v1) so that the host loads it like
// any task: it only needs canopy_abi_version and a memory.
EXPORT("canopy_abi_version") int32_t abi_version(void) { return 1; }

EXPORT("score_workload_version") int32_t workload_version(void) { return WORKLOAD_VERSION; }

// ---- integer ----

#define INT_N 256
static uint32_t ints[INT_N];
static uint32_t crc_table[256];
static uint32_t int_seed = 2463534242u;

static void crc_init(void) {
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

// sort is a non-recursive quicksort (median of three) with insertion sort
// for short ranges.
static void sort(uint32_t *a, int n) {
	int lo_stack[64], hi_stack[64], sp = 0;
	lo_stack[sp] = 0, hi_stack[sp] = n - 1, sp++;
	while (sp > 0) {
		sp--;
		int lo = lo_stack[sp], hi = hi_stack[sp];
		while (hi - lo > 12) {
			int mid = lo + (hi - lo) / 2;
			uint32_t x = a[lo], y = a[mid], z = a[hi];
			uint32_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
			int i = lo, j = hi;
			while (i <= j) {
				while (a[i] < p) i++;
				while (a[j] > p) j--;
				if (i <= j) {
					uint32_t t = a[i];
					a[i] = a[j], a[j] = t;
					i++, j--;
				}
			}
			// Push the larger side, loop on the smaller: the stack stays
			// logarithmic.
			if (j - lo > hi - i) {
				lo_stack[sp] = lo, hi_stack[sp] = j, sp++;
				lo = i;
			} else {
				lo_stack[sp] = i, hi_stack[sp] = hi, sp++;
				hi = j;
			}
		}
		for (int i = lo + 1; i <= hi; i++) {
			uint32_t v = a[i];
			int j = i - 1;
			while (j >= lo && a[j] > v) a[j + 1] = a[j], j--;
			a[j + 1] = v;
		}
	}
}

EXPORT("score_int") uint32_t score_int(uint32_t n) {
	if (crc_table[1] == 0) crc_init();
	uint32_t crc = 0xFFFFFFFFu, s = int_seed;
	for (uint32_t it = 0; it < n; it++) {
		for (int i = 0; i < INT_N; i++) {
			s ^= s << 13, s ^= s >> 17, s ^= s << 5;
			ints[i] = s;
		}
		sort(ints, INT_N);
		const uint8_t *b = (const uint8_t *)ints;
		for (int i = 0; i < INT_N * 4; i++) crc = crc_table[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
	}
	int_seed = s;
	return ~crc;
}

// ---- floating point ----

#define MAT_N 16
static double ma[MAT_N][MAT_N], mb[MAT_N][MAT_N], mc[MAT_N][MAT_N];

EXPORT("score_float") uint32_t score_float(uint32_t n) {
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			ma[i][j] = 1.0 + (double)(i * MAT_N + j) / 256.0;
			mb[i][j] = 1.0 - (double)(j * MAT_N + i) / 512.0;
		}
	double trace = 0;
	for (uint32_t it = 0; it < n; it++) {
		for (int i = 0; i < MAT_N; i++)
			for (int j = 0; j < MAT_N; j++) {
				double s = 0;
				for (int k = 0; k < MAT_N; k++) s += ma[i][k] * mb[k][j];
				mc[i][j] = s;
			}
		// Feed the product back (scaled to stay finite) so no iteration
		// repeats the previous one.
		double t = 0;
		for (int i = 0; i < MAT_N; i++) t += mc[i][i];
		trace += t;
		double scale = 1.0 / t;
		for (int i = 0; i < MAT_N; i++)
			for (int j = 0; j < MAT_N; j++) ma[i][j] = mc[i][j] * scale * MAT_N + 0.5;
	}
	return (uint32_t)(int64_t)(trace * 1000.0);
}

// ---- memory ----

#define MEM_WORDS (8u << 20) / 4   // 8 MiB of uint32
#define MEM_STRIDE 68u             // words: 272 bytes, every 4.25 cache lines
#define MEM_TOUCHES 16384u
static uint32_t mem[MEM_WORDS];
static uint32_t mem_pos;

EXPORT("score_mem") uint32_t score_mem(uint32_t n) {
	uint32_t pos = mem_pos, sum = 0;
	for (uint32_t it = 0; it < n; it++) {
		for (uint32_t k = 0; k < MEM_TOUCHES; k++) {
			uint32_t v = mem[pos] + k;
			mem[pos] = v;
			sum += v;
			pos = (pos + MEM_STRIDE) & (MEM_WORDS - 1);
		}
		pos = (pos + 17) & (MEM_WORDS - 1); // start each pass on other lines
	}
	mem_pos = pos;
	return sum;
}
