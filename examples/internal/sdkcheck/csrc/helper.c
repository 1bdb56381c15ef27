/* helper.c: a second file of the sdkcheck C task that also includes
 * canopy.h, so that linking checks the header's weak definitions. */
#include "canopy.h"

int32_t fill_pattern(uint8_t *buf, size_t n) {
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i % 251);
    return 0;
}
