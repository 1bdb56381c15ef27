/* noop.c: the C twin of gotask, the baseline of sdkbench. */
#include "canopy.h"

static size_t n;

int32_t canopy_on_message(const char *topic, size_t topic_len,
                          const uint8_t *data, size_t data_len) {
    (void)topic, (void)data;
    n += topic_len + data_len;
    return 0;
}

int32_t canopy_on_tick(void) { return 0; }
