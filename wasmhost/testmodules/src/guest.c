// guest is the reactor the wasmhost tests drive: each topic of
// canopy_on_message selects a behaviour, good or bad, and the call_*
// exports pass raw arguments to the host functions so tests can check
// bounds and error codes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "canopy_imports.h"

EXPORT("canopy_abi_version") int32_t abi_version(void) { return 1; }
EXPORT("canopy_alloc") void *alloc(int32_t size) { return malloc((size_t)size); }

static int32_t ticks;
EXPORT("canopy_on_tick") int32_t on_tick(void) {
	ticks++;
	canopy_publish("tick", 4, "", 0); // seen by tests that grant "tick"
	return 0;
}
EXPORT("ticks") int32_t get_ticks(void) { return ticks; }

static char scratch[4096];
EXPORT("scratch") char *get_scratch(void) { return scratch; }

EXPORT("call_log") void call_log(int32_t l, int32_t p, int32_t n) { canopy_log(l, (void *)p, n); }
EXPORT("call_publish") int32_t call_publish(int32_t a, int32_t b, int32_t c, int32_t d) { return canopy_publish((void *)a, b, (void *)c, d); }
EXPORT("call_kv_get") int32_t call_kv_get(int32_t a, int32_t b, int32_t c, int32_t d) { return canopy_kv_get((void *)a, b, (void *)c, d); }
EXPORT("call_kv_set") int32_t call_kv_set(int32_t a, int32_t b, int32_t c, int32_t d) { return canopy_kv_set((void *)a, b, (void *)c, d); }
EXPORT("call_kv_delete") int32_t call_kv_delete(int32_t a, int32_t b) { return canopy_kv_delete((void *)a, b); }
EXPORT("call_config_get") int32_t call_config_get(int32_t a, int32_t b, int32_t c, int32_t d) { return canopy_config_get((void *)a, b, (void *)c, d); }

static volatile int32_t sink;
__attribute__((noinline)) static int32_t recurse(int32_t n) {
	volatile char frame[64];
	frame[0] = (char)n;
	return recurse(n + 1) + frame[0];
}
static void *volatile keep;
// deep recurses through a function pointer: no shadow stack, no loop, so
// the wasm call stack itself overflows.
static int32_t deep(int32_t n);
static int32_t (*volatile deep_ptr)(int32_t) = deep;
static int32_t deep(int32_t n) { return deep_ptr(n + 1) + 1; }

static int is(const char *t, int32_t tl, const char *want) {
	return (size_t)tl == strlen(want) && memcmp(t, want, (size_t)tl) == 0;
}

static int32_t received;
EXPORT("received") int32_t get_received(void) { return received; }

EXPORT("canopy_on_message")
int32_t on_message(const char *t, int32_t tl, const char *d, int32_t dl) {
	received++;
	if (is(t, tl, "echo")) { // publish the payload back on "echo/out"
		return canopy_publish("echo/out", 8, d, dl);
	}
	if (is(t, tl, "fail")) return 7;
	if (is(t, tl, "trap")) __builtin_trap();
	if (is(t, tl, "loop")) { for (;;) sink++; }
	if (is(t, tl, "recurse")) return recurse(0);
	if (is(t, tl, "deep")) return deep(0);
	if (is(t, tl, "grow")) { // grow memory until refused, then keep running
		for (;;) if (__builtin_wasm_memory_grow(0, 16) == (size_t)-1) for (;;) sink++;
	}
	if (is(t, tl, "malloc")) { // allocate until malloc fails, then return
		for (int i = 0; i < 100000; i++) if (!(keep = malloc(1 << 20))) return 9;
		return 0;
	}
	if (is(t, tl, "flood")) { // ignore -2 and keep publishing
		for (int i = 0; i < 100000; i++) canopy_publish("echo/out", 8, d, dl);
		return 0;
	}
	if (is(t, tl, "flood-polite")) { // stop at the first -2
		for (int i = 0; i < 100000; i++) if (canopy_publish("echo/out", 8, d, dl) == -2) return 0;
		return 1;
	}
	if (is(t, tl, "print")) { printf("hello %.*s\n", (int)dl, d); fflush(stdout); return 0; }
	if (is(t, tl, "spam")) { // huge log output on stdout and through log
		for (int i = 0; i < 20000; i++) { printf("line %d of spam spam spam spam spam spam\n", i); canopy_log(1, "spam", 4); }
		fflush(stdout);
		return 0;
	}
	if (is(t, tl, "kv")) { // payload "k=v" sets k, then returns the value read back's length
		const char *eq = memchr(d, '=', (size_t)dl);
		if (!eq) return -100;
		int32_t kl = (int32_t)(eq - d);
		int32_t r = canopy_kv_set(d, kl, eq + 1, dl - kl - 1);
		if (r != 0) return r;
		char buf[64];
		return canopy_kv_get(d, kl, buf, sizeof buf);
	}
	if (is(t, tl, "exit")) exit(3);
	if (is(t, tl, "sleep")) { // payload: milliseconds
		char ms[16] = {0};
		memcpy(ms, d, dl < 15 ? (size_t)dl : 15);
		usleep((useconds_t)atoi(ms) * 1000);
		return 0;
	}
	return 0;
}
