/* Misuse and bad input get result codes, never undefined behaviour: NULL handles and
 * out-parameters, free(NULL), invalid UTF-8, oversized strings and lines, invalid JSON,
 * invalid configurations, polling in the wrong order. */
#include "check.h"

static void null_handle_everywhere(void) {
    shareexec_file_event w = smb_write("h", "C:\\a.exe", T0, 1);
    shareexec_process_event p = start("h", "C:\\a.exe", T0, 1);
    shareexec_verdict v;
    shareexec_stats s;
    char buf[8];
    size_t len;
    int64_t t;
    CHECK_RC(shareexec_detector_feed_file(NULL, &w), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_feed_process(NULL, &p), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_feed_json(NULL, (const uint8_t *)"{}", 2, 1),
             SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_poll(NULL, &v), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_verdict_json(NULL, buf, sizeof buf, &len),
             SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_stats(NULL, &s), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_advance(NULL, T0), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_flush(NULL), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_next_deadline(NULL, &t), SHAREEXEC_NULL_ARGUMENT);
    CHECK(shareexec_detector_last_error(NULL) == NULL);
    CHECK_RC(shareexec_detector_new(NULL, NULL), SHAREEXEC_NULL_ARGUMENT);
    shareexec_detector_free(NULL); /* a no-op */
}

static void null_out_parameters(void) {
    shareexec_detector *d = new_detector(NULL);
    CHECK_RC(shareexec_detector_feed_file(d, NULL), SHAREEXEC_NULL_ARGUMENT);
    CHECK(strstr(shareexec_detector_last_error(d), "event is NULL") != NULL);
    CHECK_RC(shareexec_detector_feed_process(d, NULL), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_feed_json(d, NULL, 0, 1), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_stats(d, NULL), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_next_deadline(d, NULL), SHAREEXEC_NULL_ARGUMENT);

    /* poll(NULL out) must not consume the verdict. */
    shareexec_file_event w = smb_write("h", "C:\\a.exe", T0, 1);
    shareexec_process_event p = start("h", "C:\\a.exe", T0 + SECOND, 2);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_poll(d, NULL), SHAREEXEC_NULL_ARGUMENT);
    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);

    char buf[4];
    CHECK_RC(shareexec_detector_verdict_json(d, buf, sizeof buf, NULL), SHAREEXEC_NULL_ARGUMENT);
    size_t len = 0;
    CHECK_RC(shareexec_detector_verdict_json(d, NULL, 10, &len), SHAREEXEC_NULL_ARGUMENT);
    /* The verdict's views survived the failed calls. */
    CHECK(str_is(v.path, "C:\\a.exe"));
    CHECK(strcmp(shareexec_detector_last_error(d), "buf is NULL but cap is not 0") == 0);
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    CHECK(strcmp(shareexec_detector_last_error(d), "") == 0); /* cleared by success */

    shareexec_detector *out = (shareexec_detector *)&len; /* overwritten with NULL on failure */
    shareexec_config bad;
    memset(&bad, 0, sizeof bad);
    bad.semantics = 99;
    CHECK_RC(shareexec_detector_new(&bad, &out), SHAREEXEC_INVALID_CONFIG);
    CHECK(out == NULL);
    shareexec_detector_free(d);
}

static void invalid_configurations(void) {
    shareexec_detector *d = NULL;
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.trust_mode = 7;
    CHECK_RC(shareexec_detector_new(&c, &d), SHAREEXEC_INVALID_CONFIG);
    memset(&c, 0, sizeof c);
    c.max_lateness_ns = -1;
    CHECK_RC(shareexec_detector_new(&c, &d), SHAREEXEC_INVALID_CONFIG);
    memset(&c, 0, sizeof c);
    c.idle_host_timeout_ns = 60 * SECOND; /* must exceed maxspan (60 s) + lateness */
    CHECK_RC(shareexec_detector_new(&c, &d), SHAREEXEC_INVALID_CONFIG);
    memset(&c, 0, sizeof c);
    c.source.ptr = "\xff";
    c.source.len = 1;
    CHECK_RC(shareexec_detector_new(&c, &d), SHAREEXEC_INVALID_UTF8);
    CHECK(d == NULL);
    /* Explicit values, a fixed hash seed. */
    memset(&c, 0, sizeof c);
    c.max_pending = 10;
    c.max_pending_per_host = 2;
    c.max_hosts = 3;
    c.has_hash_seed = 1;
    c.hash_seed = 42;
    d = new_detector(&c);
    for (int i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof path, "C:\\%d.exe", i);
        shareexec_file_event w = smb_write("h", path, T0 + i, (uint64_t)i);
        CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    }
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.pending == 2 && s.evicted == 3);
    shareexec_detector_free(d);
}

static void bad_strings_in_structs(void) {
    shareexec_detector *d = new_detector(NULL);
    shareexec_file_event w = smb_write("h", "C:\\a.exe", T0, 1);
    w.path.ptr = "C:\\\xc3\x28.exe"; /* an invalid two-byte sequence */
    w.path.len = strlen(w.path.ptr);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_INVALID_UTF8);
    CHECK(strstr(shareexec_detector_last_error(d), "file_event.path") != NULL);

    shareexec_process_event p = start("h", "C:\\a.exe", T0, 2);
    p.code_signature.subject_name.ptr = "\xed\xa0\x80"; /* a UTF-16 surrogate, not UTF-8 */
    p.code_signature.subject_name.len = 3;
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_INVALID_UTF8);
    CHECK(strstr(shareexec_detector_last_error(d), "subject_name") != NULL);

    /* Oversized: refused before a single byte is read, so a short buffer is safe here. */
    p = start("h", "C:\\a.exe", T0, 2);
    p.host_id.len = (size_t)SHAREEXEC_MAX_STRING_BYTES + 1;
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_TOO_LARGE);
    p.host_id.len = SIZE_MAX;
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_TOO_LARGE);
    CHECK(strstr(shareexec_detector_last_error(d), "process_event.host_id") != NULL);

    /* A NULL pointer is a missing field whatever the length; a non-NULL empty string is a
     * value. Embedded NULs are bytes like any other. */
    w = smb_write("h", "C:\\a.exe", T0, 1);
    w.hash.md5.ptr = NULL;
    w.hash.md5.len = 12345;
    w.extension.ptr = "";
    w.extension.len = 0;
    w.origin.id.ptr = "a\0b";
    w.origin.id.len = 3;
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);

    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.events == 1); /* the refused events were not fed */
    shareexec_detector_free(d);
}

static void bad_json_lines(void) {
    shareexec_detector *d = new_detector(NULL);
    const char *not_json = "{\"@timestamp\": \"2024-01-03T14:00:00Z\", \"event\": ";
    CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)not_json, strlen(not_json), 1),
             SHAREEXEC_PARSE_ERROR);
    const char *err = shareexec_detector_last_error(d);
    CHECK(strstr(err, "column") != NULL && strstr(err, "not valid JSON") != NULL);

    const char *no_time = "{\"event\":{\"category\":\"file\"}}";
    CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)no_time, strlen(no_time), 2),
             SHAREEXEC_PARSE_ERROR);
    CHECK(strstr(shareexec_detector_last_error(d), "@timestamp") != NULL);

    const char *wrong_type =
        "{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"process\":{\"pid\":{}}}";
    CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)wrong_type, strlen(wrong_type), 3),
             SHAREEXEC_PARSE_ERROR);
    CHECK(strstr(shareexec_detector_last_error(d), "process.pid") != NULL);

    const char *array = "[1,2]";
    CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)array, strlen(array), 4),
             SHAREEXEC_PARSE_ERROR);

    const uint8_t bad_utf8[] = "{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"host\":{\"id\":\"\xff\"}}";
    CHECK_RC(shareexec_detector_feed_json(d, bad_utf8, sizeof bad_utf8 - 1, 5),
             SHAREEXEC_INVALID_UTF8);
    CHECK(strstr(shareexec_detector_last_error(d), "UTF-8") != NULL);

    const uint8_t nul[] = "{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"x\":\"a\0b\"}";
    CHECK_RC(shareexec_detector_feed_json(d, nul, sizeof nul - 1, 6), SHAREEXEC_PARSE_ERROR);

    /* Oversized: refused before reading. */
    CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)"{}", (size_t)SHAREEXEC_MAX_LINE_BYTES + 1, 7),
             SHAREEXEC_TOO_LARGE);
    CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)"{}", SIZE_MAX, 8),
             SHAREEXEC_TOO_LARGE);

    /* An empty line (len 0, non-NULL pointer) is blank: skipped. */
    CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)"", 0, 9), SHAREEXEC_OK);

    /* The detector is unaffected by the bad lines. */
    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.events == 0);
    shareexec_detector_free(d);
}

static void result_codes(void) {
    for (uint32_t code = SHAREEXEC_OK; code <= SHAREEXEC_SNAPSHOT_ERROR; code++) {
        const char *text = shareexec_result_describe(code);
        CHECK(text != NULL && strlen(text) > 0);
        CHECK(strcmp(text, "unknown result code") != 0);
    }
    CHECK(strcmp(shareexec_result_describe(SHAREEXEC_OK), "success") == 0);
    CHECK(strcmp(shareexec_result_describe(1000), "unknown result code") == 0);
    CHECK(strcmp(shareexec_result_describe(UINT32_MAX), "unknown result code") == 0);
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", SHAREEXEC_VERSION_MAJOR, SHAREEXEC_VERSION_MINOR,
             SHAREEXEC_VERSION_PATCH);
    CHECK(strcmp(shareexec_version(), expect) == 0);
    CHECK(strcmp(SHAREEXEC_VERSION, expect) == 0);
}

int main(void) {
    null_handle_everywhere();
    null_out_parameters();
    invalid_configurations();
    bad_strings_in_structs();
    bad_json_lines();
    result_codes();
    printf("test_misuse: ok\n");
    return 0;
}
