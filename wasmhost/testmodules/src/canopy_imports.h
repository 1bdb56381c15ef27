// Imports of the canopy host module (CONTRACT.md, Task ABI v1), declared
// here so the test guests do not depend on sdk/c.
#include <stdint.h>
#define IMPORT(name) __attribute__((import_module("canopy"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))
IMPORT("log") void canopy_log(int32_t level, const void *ptr, int32_t len);
IMPORT("publish") int32_t canopy_publish(const void *tp, int32_t tl, const void *dp, int32_t dl);
IMPORT("kv_get") int32_t canopy_kv_get(const void *kp, int32_t kl, void *bp, int32_t bc);
IMPORT("kv_set") int32_t canopy_kv_set(const void *kp, int32_t kl, const void *vp, int32_t vl);
IMPORT("kv_delete") int32_t canopy_kv_delete(const void *kp, int32_t kl);
IMPORT("config_get") int32_t canopy_config_get(const void *kp, int32_t kl, void *bp, int32_t bc);
