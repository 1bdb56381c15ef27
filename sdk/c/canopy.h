/*
 * canopy.h — the guest side of the Canopy task ABI, version 1, for tasks
 * written in C (CONTRACT.md, "Task ABI").
 *
 * A task is a WebAssembly module that Canopy runs in a sandbox on a device:
 * it gets the MQTT messages its manifest subscribes to, is woken every tick,
 * may publish to the topics its manifest grants, keeps a small key-value
 * store that survives restarts, and reads the config values of its manifest.
 *
 * Build a service (resident, driven by messages and ticks) as a WASI
 * reactor with clang and wasi-libc:
 *
 *     clang --target=wasm32-wasi -O2 -mexec-model=reactor -o task.wasm task.c
 *
 * and a job (runs main to completion) as a command, without
 * -mexec-model=reactor.
 *
 * A task file includes this header and defines its handlers:
 *
 *     #define CANOPY_NO_TICK_HANDLER
 *     #include "canopy.h"
 *
 *     int32_t canopy_on_message(const char *topic, size_t topic_len,
 *                               const uint8_t *data, size_t data_len) {
 *         canopy_log_str(CANOPY_LOG_INFO, "got a message");
 *         return canopy_publish_bytes("echo", data, data_len) == 0 ? 0 : 1;
 *     }
 *
 * A service defines both canopy_on_message and canopy_on_tick; one that
 * needs only one of them defines CANOPY_NO_TICK_HANDLER (or
 * CANOPY_NO_MESSAGE_HANDLER) before the #include to get a do-nothing other.
 * The header supplies the rest the host needs: the exports
 * canopy_abi_version and canopy_alloc (weak definitions, so several files of
 * one task can include the header).
 *
 * Handlers are called one at a time, never concurrently. The host writes
 * each message into a region it got from canopy_alloc and MAY REUSE that
 * region for the next message: topic and data are valid only until the
 * handler returns; copy what you keep. topic is not NUL-terminated. A
 * handler returns 0 for success; any other value counts as a handler
 * error (the host logs and counts it, and the task carries on).
 *
 * Host functions never trap on bad arguments: they return one of the
 * negative CANOPY_ERR_* codes. canopy_strerror names them. Output written
 * to stdout and stderr becomes the task's log lines too.
 */
#ifndef CANOPY_H
#define CANOPY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The task ABI version this header implements. */
#define CANOPY_ABI_VERSION 1

/* Error codes returned by the host functions (always negative). */
#define CANOPY_OK 0
#define CANOPY_ERR_NOT_PERMITTED -1    /* topic not granted by the manifest */
#define CANOPY_ERR_RATE_LIMITED -2     /* over the publishRate limit; dropped */
#define CANOPY_ERR_TOO_LARGE -3        /* payload, key or value too large */
#define CANOPY_ERR_INVALID_ARGUMENT -4 /* bad pointer, empty key, bad topic */
#define CANOPY_ERR_NOT_FOUND -5        /* no such key or config value */
#define CANOPY_ERR_QUOTA_EXCEEDED -6   /* KV store would pass its kv limit */
#define CANOPY_ERR_UNAVAILABLE -7      /* the host cannot serve the call now */

/* Log levels. */
#define CANOPY_LOG_DEBUG 0
#define CANOPY_LOG_INFO 1
#define CANOPY_LOG_WARN 2
#define CANOPY_LOG_ERROR 3

#define CANOPY_IMPORT(name) \
    __attribute__((import_module("canopy"), import_name(name)))
#define CANOPY_EXPORT(name) __attribute__((export_name(name)))

/* ---- Host functions (imports from module "canopy") ---------------------- */

/* canopy_log writes one log line of len bytes at level (CANOPY_LOG_*).
 * Lines past the task's logRate limit are dropped by the host. */
CANOPY_IMPORT("log")
void canopy_log(int32_t level, const char *msg, size_t len);

/* canopy_publish sends data to topic (a concrete topic name granted by the
 * manifest's publish: list). Returns 0 or CANOPY_ERR_NOT_PERMITTED,
 * _RATE_LIMITED, _TOO_LARGE, _INVALID_ARGUMENT. data is copied.
 * After CANOPY_ERR_RATE_LIMITED (the message was dropped) stop publishing
 * for a while: a task that keeps publishing is stopped by the host for
 * flooding. */
CANOPY_IMPORT("publish")
int32_t canopy_publish(const char *topic, size_t topic_len,
                       const void *data, size_t data_len);

/* canopy_kv_get copies the value of key into buf if it fits in buf_cap
 * bytes and returns the value's length either way, or CANOPY_ERR_NOT_FOUND
 * (no such key) or another error code. A result larger than buf_cap means
 * nothing was copied: retry with a buffer of that size. */
CANOPY_IMPORT("kv_get")
int32_t canopy_kv_get(const char *key, size_t key_len, void *buf,
                      size_t buf_cap);

/* canopy_kv_set stores val under key. Returns 0 or an error code
 * (CANOPY_ERR_QUOTA_EXCEEDED past the kv limit). */
CANOPY_IMPORT("kv_set")
int32_t canopy_kv_set(const char *key, size_t key_len, const void *val,
                      size_t val_len);

/* canopy_kv_delete removes key. Returns 0 or an error code. */
CANOPY_IMPORT("kv_delete")
int32_t canopy_kv_delete(const char *key, size_t key_len);

/* canopy_config_get copies the config value of key into buf like
 * canopy_kv_get; CANOPY_ERR_NOT_FOUND when the manifest does not set it. */
CANOPY_IMPORT("config_get")
int32_t canopy_config_get(const char *key, size_t key_len, void *buf,
                          size_t buf_cap);

/* ---- Exports the host calls --------------------------------------------- */

/* canopy_on_message is called for each message on a subscribed topic.
 * topic (not NUL-terminated) and data are valid only during the call.
 * Return 0 on success, non-zero for a handler error. */
CANOPY_EXPORT("canopy_on_message")
int32_t canopy_on_message(const char *topic, size_t topic_len,
                          const uint8_t *data, size_t data_len);

/* canopy_on_tick is called every tick (the manifest's tick:). Return 0 on
 * success, non-zero for a handler error. */
CANOPY_EXPORT("canopy_on_tick")
int32_t canopy_on_tick(void);

/* canopy_abi_version returns CANOPY_ABI_VERSION; the host checks it. */
CANOPY_EXPORT("canopy_abi_version")
int32_t canopy_abi_version(void);

/* canopy_alloc returns size bytes of memory for the host to write a message
 * into, or 0 if there is none. The region stays valid until the next call,
 * which frees it. */
CANOPY_EXPORT("canopy_alloc")
void *canopy_alloc(int32_t size);

/* Default definitions of canopy_abi_version and canopy_alloc. They are
 * weak, so several files of one task may include this header. A task with
 * its own allocator defines CANOPY_CUSTOM_ALLOC before including the header
 * and defines canopy_alloc itself, with the same contract. */

__attribute__((weak)) int32_t canopy_abi_version(void) {
    return CANOPY_ABI_VERSION;
}

#ifndef CANOPY_CUSTOM_ALLOC
/* The region most recently handed to the host. */
__attribute__((weak)) void *canopy_region_;

__attribute__((weak)) void *canopy_alloc(int32_t size) {
    if (size < 0)
        return 0;
    free(canopy_region_);
    canopy_region_ = malloc(size > 0 ? (size_t)size : 1);
    return canopy_region_;
}
#endif

/* A service that only needs one of the handlers asks for a do-nothing
 * definition of the other by defining CANOPY_NO_MESSAGE_HANDLER or
 * CANOPY_NO_TICK_HANDLER before including this header (in one file). */
#ifdef CANOPY_NO_MESSAGE_HANDLER
int32_t canopy_on_message(const char *topic, size_t topic_len,
                          const uint8_t *data, size_t data_len) {
    (void)topic, (void)topic_len, (void)data, (void)data_len;
    return 0;
}
#endif

#ifdef CANOPY_NO_TICK_HANDLER
int32_t canopy_on_tick(void) { return 0; }
#endif

/* ---- Helpers ------------------------------------------------------------ */

/* canopy_log_str logs a NUL-terminated string. */
static inline void canopy_log_str(int32_t level, const char *msg) {
    canopy_log(level, msg, strlen(msg));
}

/* canopy_logf logs a printf-formatted line (at most 511 bytes; longer
 * lines are truncated). */
__attribute__((format(printf, 2, 3))) static inline void
canopy_logf(int32_t level, const char *format, ...) {
    char line[512];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    canopy_log(level, line, (size_t)n);
}

/* canopy_publish_str publishes the NUL-terminated string data to the
 * NUL-terminated topic. Returns 0 or an error code. */
static inline int32_t canopy_publish_str(const char *topic, const char *data) {
    return canopy_publish(topic, strlen(topic), data, strlen(data));
}

/* canopy_publish_bytes publishes len bytes of data to the NUL-terminated
 * topic. Returns 0 or an error code. */
static inline int32_t canopy_publish_bytes(const char *topic, const void *data,
                                           size_t len) {
    return canopy_publish(topic, strlen(topic), data, len);
}

/* canopy_kv_get_str reads the value of the NUL-terminated key into buf as a
 * NUL-terminated string. Returns the value's length, or an error code;
 * CANOPY_ERR_TOO_LARGE if the value and its NUL do not fit in cap bytes. */
static inline int32_t canopy_kv_get_str(const char *key, char *buf,
                                        size_t cap) {
    if (cap == 0)
        return CANOPY_ERR_TOO_LARGE;
    int32_t n = canopy_kv_get(key, strlen(key), buf, cap - 1);
    if (n < 0)
        return n;
    if ((size_t)n >= cap)
        return CANOPY_ERR_TOO_LARGE;
    buf[n] = 0;
    return n;
}

/* canopy_kv_set_str stores the NUL-terminated string val (without its NUL)
 * under the NUL-terminated key. Returns 0 or an error code. */
static inline int32_t canopy_kv_set_str(const char *key, const char *val) {
    return canopy_kv_set(key, strlen(key), val, strlen(val));
}

/* canopy_config_str reads the config value of the NUL-terminated key into
 * buf as a NUL-terminated string, like canopy_kv_get_str. */
static inline int32_t canopy_config_str(const char *key, char *buf,
                                        size_t cap) {
    if (cap == 0)
        return CANOPY_ERR_TOO_LARGE;
    int32_t n = canopy_config_get(key, strlen(key), buf, cap - 1);
    if (n < 0)
        return n;
    if ((size_t)n >= cap)
        return CANOPY_ERR_TOO_LARGE;
    buf[n] = 0;
    return n;
}

/* canopy_config_double returns the config value of key parsed as a number,
 * or def if it is not set. A value that is set but is not a number is
 * logged at error level and def is returned. */
static inline double canopy_config_double(const char *key, double def) {
    char buf[64];
    if (canopy_config_str(key, buf, sizeof buf) < 0)
        return def;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || *end != 0) {
        canopy_logf(CANOPY_LOG_ERROR, "config %s: not a number: %s", key, buf);
        return def;
    }
    return v;
}

/* canopy_strerror names an error code ("not found"); "ok" for 0. */
static inline const char *canopy_strerror(int32_t code) {
    switch (code) {
    case CANOPY_OK: return "ok";
    case CANOPY_ERR_NOT_PERMITTED: return "not permitted";
    case CANOPY_ERR_RATE_LIMITED: return "rate limited";
    case CANOPY_ERR_TOO_LARGE: return "too large";
    case CANOPY_ERR_INVALID_ARGUMENT: return "invalid argument";
    case CANOPY_ERR_NOT_FOUND: return "not found";
    case CANOPY_ERR_QUOTA_EXCEEDED: return "quota exceeded";
    case CANOPY_ERR_UNAVAILABLE: return "unavailable";
    }
    return code > 0 ? "ok" : "unknown error";
}

#ifdef __cplusplus
}
#endif

#endif /* CANOPY_H */
