/* Tiny test helpers for the C tests of shareexec's C API (see run.sh). */
#ifndef SHAREEXEC_TEST_CHECK_H
#define SHAREEXEC_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shareexec.h"

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define CHECK_RC(call, want)                                                           \
    do {                                                                               \
        shareexec_result rc_ = (call);                                                 \
        if (rc_ != (shareexec_result)(want)) {                                         \
            fprintf(stderr, "%s:%d: %s returned %u (%s), want %s\n", __FILE__,         \
                    __LINE__, #call, (unsigned)rc_, shareexec_result_describe(rc_),    \
                    #want);                                                            \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* A string view of a C string (NULL: missing). */
static inline shareexec_str S(const char *s) {
    shareexec_str r;
    r.ptr = s;
    r.len = s ? strlen(s) : 0;
    return r;
}

/* Whether a view the library gave equals `want` (NULL: missing), and is NUL-terminated. */
static inline int str_is(shareexec_str s, const char *want) {
    if (want == NULL) return s.ptr == NULL && s.len == 0;
    return s.ptr != NULL && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0 &&
           s.ptr[s.len] == '\0';
}

/* 2024-01-03T14:00:00Z in nanoseconds since the epoch. */
#define T0 INT64_C(1704290400000000000)
#define SECOND INT64_C(1000000000)

/* An SMB write of `path` on `host` by the System process, at `t`. */
static inline shareexec_file_event smb_write(const char *host, const char *path, int64_t t,
                                             uint64_t position) {
    shareexec_file_event e;
    memset(&e, 0, sizeof e);
    e.origin.timestamp_ns = t;
    e.origin.position = position;
    e.host_id = S(host);
    e.os_type = S("windows");
    e.types = SHAREEXEC_TYPE_CREATION;
    e.has_pid = 1;
    e.pid = 4;
    e.path = S(path);
    e.extension = S("exe");
    return e;
}

/* A process start of `exe` on `host` at `t`, unsigned. */
static inline shareexec_process_event start(const char *host, const char *exe, int64_t t,
                                            uint64_t position) {
    shareexec_process_event e;
    memset(&e, 0, sizeof e);
    e.origin.timestamp_ns = t;
    e.origin.position = position;
    e.host_id = S(host);
    e.os_type = S("windows");
    e.types = SHAREEXEC_TYPE_START;
    e.executable = S(exe);
    e.has_pid = 1;
    e.pid = 5000;
    return e;
}

static inline shareexec_detector *new_detector(const shareexec_config *config) {
    shareexec_detector *d = NULL;
    CHECK_RC(shareexec_detector_new(config, &d), SHAREEXEC_OK);
    CHECK(d != NULL);
    return d;
}

#endif
