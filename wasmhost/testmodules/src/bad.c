// bad.c builds the malformed task modules of the tests, one per BAD_* macro.
#include "canopy_imports.h"
#if defined(BAD_NOABI)
EXPORT("canopy_on_tick") int32_t on_tick(void) { return 0; }
#elif defined(BAD_IMPORT)
__attribute__((import_module("env"), import_name("sneaky"))) int32_t sneaky(void);
EXPORT("canopy_abi_version") int32_t abi_version(void) { return 1; }
EXPORT("canopy_on_tick") int32_t on_tick(void) { return sneaky(); }
#elif defined(BAD_VERSION)
EXPORT("canopy_abi_version") int32_t abi_version(void) { return 2; }
#elif defined(BAD_INITLOOP)
static volatile int sink;
__attribute__((constructor)) static void forever(void) { for (;;) sink++; }
EXPORT("canopy_abi_version") int32_t abi_version(void) { return 1; }
#endif
