// job is the command the wasmhost tests run as a job: config key "mode"
// selects what _start does.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "canopy_imports.h"

EXPORT("canopy_abi_version") int32_t abi_version(void) { return 1; }

static volatile int32_t sink;

int main(void) {
	char mode[32] = {0};
	int32_t n = canopy_config_get("mode", 4, mode, sizeof mode - 1);
	if (n < 0) return 2;
	printf("job mode %s\n", mode);
	if (!strcmp(mode, "ok")) { canopy_kv_set("done", 4, "yes", 3); return 0; }
	if (!strcmp(mode, "exit3")) return 3;
	if (!strcmp(mode, "loop")) for (;;) sink++;
	if (!strcmp(mode, "trap")) __builtin_trap();
	return 1;
}
