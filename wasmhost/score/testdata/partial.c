// partial is a canopy task that looks like the score workload but is not
// quite it: built with -DNO_MEM it lacks score_mem, with -DVERSION=2 it
// claims another workload version. The runner must refuse both.
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(name)))

#ifndef VERSION
#define VERSION 1
#endif

EXPORT("canopy_abi_version") int32_t abi_version(void) { return 1; }
EXPORT("score_workload_version") int32_t workload_version(void) { return VERSION; }
EXPORT("score_int") uint32_t score_int(uint32_t n) { return n; }
EXPORT("score_float") uint32_t score_float(uint32_t n) { return n; }
#ifndef NO_MEM
EXPORT("score_mem") uint32_t score_mem(uint32_t n) { return n; }
#endif
