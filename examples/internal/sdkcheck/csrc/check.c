/* check.c: the C twin of sdkcheck. On a message on "cmd/check" it runs one
 * check per call of canopy.h and logs "check name=... result=ok" or what
 * went wrong. It is built from two files that both include canopy.h (this
 * one and helper.c), which checks that the header's default definitions
 * link more than once. It has no tick handler: CANOPY_NO_TICK_HANDLER. */
#define CANOPY_NO_TICK_HANDLER
#include "canopy.h"

/* helper.c */
int32_t fill_pattern(uint8_t *buf, size_t n);

static void report(const char *name, const char *problem) {
    canopy_logf(CANOPY_LOG_INFO, "check name=%s result=%s", name,
                problem ? problem : "ok");
}

static const char *expect(int32_t got, int32_t want) {
    static char msg[96];
    if (got == want)
        return 0;
    snprintf(msg, sizeof msg, "got %d (%s), want %d (%s)", (int)got,
             canopy_strerror(got), (int)want, canopy_strerror(want));
    return msg;
}

static uint8_t big[10000], back[10000];

static void run_checks(void) {
    char buf[64];

    report("kv-str", expect(canopy_kv_set_str("a", "1"), 0));
    int32_t n = canopy_kv_get_str("a", buf, sizeof buf);
    report("kv-get-str", n == 1 && strcmp(buf, "1") == 0 ? 0 : "wrong value");
    report("kv-get-str-too-small", expect(canopy_kv_get_str("a", buf, 1), CANOPY_ERR_TOO_LARGE));

    /* The documented retry: a value larger than the buffer reports its
     * length without copying; fetch again with a buffer that fits. */
    fill_pattern(big, sizeof big);
    report("kv-set-large", expect(canopy_kv_set("big", 3, big, sizeof big), 0));
    n = canopy_kv_get("big", 3, back, 16);
    report("kv-get-reports-length", expect(n, (int32_t)sizeof big));
    n = canopy_kv_get("big", 3, back, sizeof back);
    report("kv-get-large", n == (int32_t)sizeof big && memcmp(big, back, sizeof big) == 0 ? 0 : "wrong value");

    report("kv-missing", expect(canopy_kv_get("nope", 4, buf, sizeof buf), CANOPY_ERR_NOT_FOUND));
    report("kv-delete", expect(canopy_kv_delete("a", 1), 0));
    report("kv-deleted", expect(canopy_kv_get_str("a", buf, sizeof buf), CANOPY_ERR_NOT_FOUND));
    report("kv-empty-key", expect(canopy_kv_set("", 0, "x", 1), CANOPY_ERR_INVALID_ARGUMENT));
    report("kv-bad-pointer", expect(canopy_kv_set("k", 1, (void *)0xfffffff0, 64), CANOPY_ERR_INVALID_ARGUMENT));

    report("config-str", canopy_config_str("greeting", buf, sizeof buf) == 5 && strcmp(buf, "hello") == 0 ? 0 : "wrong value");
    report("config-missing", expect(canopy_config_str("absent", buf, sizeof buf), CANOPY_ERR_NOT_FOUND));
    report("config-double", canopy_config_double("ratio", 0) == 2.5 ? 0 : "wrong value");
    report("config-double-default", canopy_config_double("absent", 7) == 7 ? 0 : "wrong value");

    report("publish-str", expect(canopy_publish_str("check/ok", "x"), 0));
    report("publish-bytes", expect(canopy_publish_bytes("check/bytes", big, 100), 0));
    report("publish-ungranted", expect(canopy_publish_str("secret/x", "x"), CANOPY_ERR_NOT_PERMITTED));
    report("abi-version", expect(canopy_abi_version(), CANOPY_ABI_VERSION));
    report("strerror", strcmp(canopy_strerror(CANOPY_ERR_QUOTA_EXCEEDED), "quota exceeded") == 0 &&
                               strcmp(canopy_strerror(-99), "unknown error") == 0
                           ? 0 : "wrong names");
    canopy_log_str(CANOPY_LOG_WARN, "warn line");
}

int32_t canopy_on_message(const char *topic, size_t topic_len,
                          const uint8_t *data, size_t data_len) {
    (void)data, (void)data_len;
    if (topic_len == 9 && memcmp(topic, "cmd/check", 9) == 0)
        run_checks();
    return 0;
}
