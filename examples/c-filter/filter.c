/*
 * c-filter: a Canopy service in C that cleans up sensor readings.
 *
 * It listens on sensors/<sensor>/<quantity> for JSON readings such as
 * {"sensor":"s1","value":21.5,"unit":"C","ts":1732550400}, drops the ones
 * that are out of range or are spikes, and republishes the rest unchanged
 * on clean/<sensor>/<quantity>.
 *
 *   - out of range: value < min or value > max;
 *   - spike: value differs from the last accepted value of the same series
 *     by more than maxStep. A real step change is accepted once `confirm`
 *     readings in a row have disagreed with the old level.
 *
 * The payload is parsed by a tiny hand parser (find_value below) rather
 * than a JSON library: it finds the "value" member and reads the number
 * after it. Readings without one are malformed: the handler logs them and
 * returns an error, which the host counts.
 *
 * If the host rate-limits a publish, it drops readings for a second rather
 * than keep publishing (which would get it stopped for flooding).
 *
 * Every tick it logs its counters if they changed, and keeps their running
 * totals in the task's KV store under "stats", so they survive restarts.
 *
 * Config: min (default -40), max (default 125), maxStep (default 10),
 * confirm (default 3).
 *
 * Build: clang --target=wasm32-wasi -O2 -mexec-model=reactor \
 *            -I../../sdk/c -o c_filter.wasm filter.c
 */
#include "canopy.h"

#include <math.h>
#include <time.h>

#define MAX_SERIES 64
#define MAX_TOPIC 128

/* One sensor series: its last accepted value and the current run of
 * readings rejected as spikes. */
struct series {
    char topic[MAX_TOPIC];
    size_t topic_len;
    double last;
    int spike_run;
};

static struct series table[MAX_SERIES];
static int nseries;

static struct {
    double min, max, max_step;
    int confirm;
} cfg;

/* Counters since the start (restored from KV) and at the last tick. */
struct counters {
    long long passed, out_of_range, spikes, malformed, rate_limited;
};
static struct counters total, logged;

static int ready;

/* When the host rate-limits a publish, the filter stops publishing for a
 * second: a task that keeps publishing after CANOPY_ERR_RATE_LIMITED is
 * stopped by the host for flooding. Readings in that second are dropped
 * and counted. */
static double quiet_until;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* setup reads the config and the saved counters, once, before the first
 * message or tick. */
static void setup(void) {
    if (ready)
        return;
    ready = 1;
    cfg.min = canopy_config_double("min", -40);
    cfg.max = canopy_config_double("max", 125);
    cfg.max_step = canopy_config_double("maxStep", 10);
    cfg.confirm = (int)canopy_config_double("confirm", 3);
    if (cfg.confirm < 1)
        cfg.confirm = 1;
    char buf[128];
    if (canopy_kv_get_str("stats", buf, sizeof buf) > 0 &&
        sscanf(buf, "%lld %lld %lld %lld %lld", &total.passed, &total.out_of_range,
               &total.spikes, &total.malformed, &total.rate_limited) >= 4)
        logged = total;
    canopy_logf(CANOPY_LOG_INFO,
                "c-filter started min=%g max=%g maxStep=%g confirm=%d passed=%lld",
                cfg.min, cfg.max, cfg.max_step, cfg.confirm, total.passed);
}

/* find_value finds the number of the "value" member in the JSON object
 * data[0:len) and stores it in *out. Returns 0 on success, -1 if there is
 * none or it is not a finite number. It never reads past data + len. */
int find_value(const uint8_t *data, size_t len, double *out) {
    static const char key[] = "\"value\"";
    const size_t klen = sizeof key - 1;
    for (size_t i = 0; i + klen <= len; i++) {
        if (memcmp(data + i, key, klen) != 0)
            continue;
        size_t j = i + klen;
        while (j < len && (data[j] == ' ' || data[j] == '\t' ||
                           data[j] == '\n' || data[j] == '\r'))
            j++;
        if (j >= len || data[j] != ':')
            continue; /* "value" was a string value, not a key */
        j++;
        while (j < len && (data[j] == ' ' || data[j] == '\t' ||
                           data[j] == '\n' || data[j] == '\r'))
            j++;
        /* Copy the number's characters: strtod needs a NUL-terminated
         * string and data is not one. */
        char num[64];
        size_t n = 0;
        while (j < len && n < sizeof num - 1 &&
               strchr("+-0123456789.eE", data[j]) && data[j] != 0)
            num[n++] = (char)data[j++];
        num[n] = 0;
        if (n == 0)
            return -1;
        char *end;
        double v = strtod(num, &end);
        if (*end != 0 || !isfinite(v))
            return -1;
        *out = v;
        return 0;
    }
    return -1;
}

/* lookup returns the series of topic, adding it if there is room, or 0. */
static struct series *lookup(const char *topic, size_t len) {
    for (int i = 0; i < nseries; i++)
        if (table[i].topic_len == len && memcmp(table[i].topic, topic, len) == 0)
            return &table[i];
    if (nseries == MAX_SERIES || len > MAX_TOPIC)
        return 0;
    struct series *s = &table[nseries++];
    memcpy(s->topic, topic, len);
    s->topic_len = len;
    s->last = NAN;
    return s;
}

int32_t canopy_on_message(const char *topic, size_t topic_len,
                          const uint8_t *data, size_t data_len) {
    setup();
    static const char in[] = "sensors/";
    const size_t inlen = sizeof in - 1;
    if (topic_len <= inlen || memcmp(topic, in, inlen) != 0) {
        canopy_logf(CANOPY_LOG_WARN, "unexpected topic %.*s", (int)topic_len, topic);
        return 1;
    }
    double v;
    if (find_value(data, data_len, &v) != 0) {
        total.malformed++;
        canopy_logf(CANOPY_LOG_WARN, "no numeric \"value\" in reading on %.*s",
                    (int)topic_len, topic);
        return 1;
    }
    if (v < cfg.min || v > cfg.max) {
        total.out_of_range++;
        return 0;
    }
    struct series *s = lookup(topic, topic_len);
    if (s && !isnan(s->last) && fabs(v - s->last) > cfg.max_step) {
        if (++s->spike_run < cfg.confirm) {
            total.spikes++;
            return 0;
        }
        /* confirm readings in a row disagreed: the level really moved. */
    }
    if (s) {
        s->last = v;
        s->spike_run = 0;
    }
    if (quiet_until > 0 && now_seconds() < quiet_until) {
        total.rate_limited++;
        return 0;
    }
    /* clean/<sensor>/<quantity>: the same levels under another root. */
    char out[MAX_TOPIC + 8];
    size_t rest = topic_len - inlen;
    if (rest > sizeof out - 6)
        return 1;
    memcpy(out, "clean/", 6);
    memcpy(out + 6, topic + inlen, rest);
    int32_t rc = canopy_publish(out, 6 + rest, data, data_len);
    if (rc == CANOPY_ERR_RATE_LIMITED) {
        quiet_until = now_seconds() + 1;
        total.rate_limited++;
        canopy_log_str(CANOPY_LOG_WARN, "publish rate limited: dropping readings for 1s");
        return 0;
    }
    if (rc != 0) {
        canopy_logf(CANOPY_LOG_WARN, "publish %.*s: %s", (int)(6 + rest), out,
                    canopy_strerror(rc));
        return 1;
    }
    total.passed++;
    return 0;
}

int32_t canopy_on_tick(void) {
    setup();
    if (memcmp(&total, &logged, sizeof total) == 0)
        return 0;
    canopy_logf(CANOPY_LOG_INFO,
                "passed=%lld out_of_range=%lld spikes=%lld malformed=%lld rate_limited=%lld",
                total.passed, total.out_of_range, total.spikes, total.malformed,
                total.rate_limited);
    logged = total;
    char buf[128];
    snprintf(buf, sizeof buf, "%lld %lld %lld %lld %lld", total.passed,
             total.out_of_range, total.spikes, total.malformed, total.rate_limited);
    int32_t rc = canopy_kv_set_str("stats", buf);
    if (rc != 0) {
        canopy_logf(CANOPY_LOG_ERROR, "save stats: %s", canopy_strerror(rc));
        return 1;
    }
    return 0;
}
