/* Snapshot and restore through the C API: a sequence split by a snapshot still alerts,
 * the size query, corrupted and foreign images, and a snapshot refused while verdicts
 * wait. */
#include "check.h"

/* Takes a snapshot of `d` the documented way: ask the size, then copy. */
static uint8_t *take_snapshot(shareexec_detector *d, size_t *len) {
    size_t need = 0;
    CHECK_RC(shareexec_detector_snapshot(d, NULL, 0, &need), SHAREEXEC_BUFFER_TOO_SMALL);
    CHECK(need > 8);
    CHECK(strstr(shareexec_detector_last_error(d), "bytes") != NULL);
    uint8_t *buf = malloc(need);
    CHECK(buf != NULL);
    /* One byte short: still too small, nothing written. */
    memset(buf, 0xAB, need);
    size_t got = 0;
    CHECK_RC(shareexec_detector_snapshot(d, buf, need - 1, &got), SHAREEXEC_BUFFER_TOO_SMALL);
    CHECK(got == need && buf[0] == 0xAB);
    CHECK_RC(shareexec_detector_snapshot(d, buf, need, &got), SHAREEXEC_OK);
    CHECK(got == need);
    CHECK(strcmp(shareexec_detector_last_error(d), "") == 0);
    CHECK(memcmp(buf, "SXCK", 4) == 0);
    *len = need;
    return buf;
}

static void split_sequence_still_alerts(void) {
    shareexec_detector *d = new_detector(NULL);
    shareexec_file_event w = smb_write("host-1", "C:\\Windows\\Temp\\EVIL.EXE", T0, 1);
    w.origin.id = S("w1");
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    size_t len = 0;
    uint8_t *snap = take_snapshot(d, &len);
    /* NULL buf with a nonzero cap is refused. */
    size_t got = 0;
    CHECK_RC(shareexec_detector_snapshot(d, NULL, 1, &got), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_snapshot(d, snap, len, NULL), SHAREEXEC_NULL_ARGUMENT);
    CHECK_RC(shareexec_detector_snapshot(NULL, snap, len, &got), SHAREEXEC_NULL_ARGUMENT);
    shareexec_detector_free(d);

    shareexec_detector *r = (shareexec_detector *)&got; /* not NULL: must be overwritten */
    CHECK_RC(shareexec_detector_restore(NULL, snap, len, &r), SHAREEXEC_OK);
    CHECK(r != NULL);
    free(snap); /* the bytes are only read during the call */
    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(r, &s), SHAREEXEC_OK);
    /* Hardened semantics holds the write for ordering: the held event is in the state. */
    CHECK(s.events == 1 && s.writes == 1 && s.buffered == 1 && s.hosts == 1);

    shareexec_process_event p = start("host-1", "c:\\windows\\temp\\evil.exe", T0 + 10 * SECOND, 2);
    CHECK_RC(shareexec_detector_feed_process(r, &p), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_flush(r), SHAREEXEC_OK);
    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(r, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);
    CHECK(str_is(v.host_id, "host-1"));
    CHECK(str_is(v.path, "C:\\Windows\\Temp\\EVIL.EXE"));
    CHECK(str_is(v.write.id, "w1"));
    CHECK(v.write.position == 1 && v.execution.position == 2);
    CHECK(v.span_ns == 10 * SECOND);
    CHECK_RC(shareexec_detector_poll(r, &v), SHAREEXEC_NO_VERDICT);
    CHECK_RC(shareexec_detector_stats(r, &s), SHAREEXEC_OK);
    CHECK(s.events == 2 && s.alerts == 1 && s.pending == 0);
    shareexec_detector_free(r);
}

static void bad_images_are_refused(void) {
    shareexec_detector *d = new_detector(NULL);
    shareexec_file_event w = smb_write("host-1", "C:\\x.exe", T0, 1);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    size_t len = 0;
    uint8_t *snap = take_snapshot(d, &len);
    shareexec_detector_free(d);

    int sentinel;
    shareexec_detector *r;

    /* One flipped bit anywhere. */
    for (size_t at = 0; at < len; at++) {
        snap[at] ^= 0x01;
        r = (shareexec_detector *)&sentinel;
        CHECK_RC(shareexec_detector_restore(NULL, snap, len, &r), SHAREEXEC_SNAPSHOT_ERROR);
        CHECK(r == NULL);
        snap[at] ^= 0x01;
    }
    /* Every truncation, including the empty image (a non-NULL pointer with len 0). */
    for (size_t n = 0; n < len; n++) {
        r = (shareexec_detector *)&sentinel;
        CHECK_RC(shareexec_detector_restore(NULL, snap, n, &r), SHAREEXEC_SNAPSHOT_ERROR);
        CHECK(r == NULL);
    }
    /* Not a snapshot at all. */
    static const char json[] = "{\"@timestamp\":\"2024-01-03T14:00:00Z\"}";
    r = (shareexec_detector *)&sentinel;
    CHECK_RC(shareexec_detector_restore(NULL, (const uint8_t *)json, sizeof json - 1, &r),
             SHAREEXEC_SNAPSHOT_ERROR);
    CHECK(r == NULL);
    /* Other semantics than the snapshot's. */
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.semantics = SHAREEXEC_SEMANTICS_ELASTICSEARCH;
    r = (shareexec_detector *)&sentinel;
    CHECK_RC(shareexec_detector_restore(&c, snap, len, &r), SHAREEXEC_SNAPSHOT_ERROR);
    CHECK(r == NULL);
    /* An invalid configuration is a configuration error, as for _new. */
    c.semantics = 99;
    r = (shareexec_detector *)&sentinel;
    CHECK_RC(shareexec_detector_restore(&c, snap, len, &r), SHAREEXEC_INVALID_CONFIG);
    CHECK(r == NULL);
    memset(&c, 0, sizeof c);
    c.max_lateness_ns = -1;
    CHECK_RC(shareexec_detector_restore(&c, snap, len, &r), SHAREEXEC_INVALID_CONFIG);
    CHECK(r == NULL);
    /* NULL arguments and an oversized length (refused before any byte is read). */
    r = (shareexec_detector *)&sentinel;
    CHECK_RC(shareexec_detector_restore(NULL, NULL, len, &r), SHAREEXEC_NULL_ARGUMENT);
    CHECK(r == NULL);
    CHECK_RC(shareexec_detector_restore(NULL, snap, len, NULL), SHAREEXEC_NULL_ARGUMENT);
    r = (shareexec_detector *)&sentinel;
    CHECK_RC(shareexec_detector_restore(NULL, snap, SHAREEXEC_MAX_SNAPSHOT_BYTES + 1, &r),
             SHAREEXEC_TOO_LARGE);
    CHECK(r == NULL);

    /* The intact image still restores, with another source name. */
    c.max_lateness_ns = 0;
    c.source = S("restored");
    CHECK_RC(shareexec_detector_restore(&c, snap, len, &r), SHAREEXEC_OK);
    CHECK(r != NULL);
    shareexec_detector_free(r);
    free(snap);
}

static void waiting_verdicts_block_a_snapshot(void) {
    /* Elasticsearch semantics without lateness: the verdict comes out during the feed. */
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.semantics = SHAREEXEC_SEMANTICS_ELASTICSEARCH;
    shareexec_detector *d = new_detector(&c);
    shareexec_file_event w = smb_write("h", "C:\\Windows\\evil.exe", T0, 1);
    shareexec_process_event p = start("h", "C:\\Windows\\evil.exe", T0 + SECOND, 2);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);

    uint8_t buf[4096];
    size_t len = 12345;
    CHECK_RC(shareexec_detector_snapshot(d, buf, sizeof buf, &len), SHAREEXEC_SNAPSHOT_ERROR);
    CHECK(len == 0);
    CHECK(strstr(shareexec_detector_last_error(d), "poll") != NULL);
    CHECK_RC(shareexec_detector_snapshot(d, NULL, 0, &len), SHAREEXEC_SNAPSHOT_ERROR);

    /* Nothing was lost: the verdict is still there. */
    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_NO_VERDICT);
    CHECK_RC(shareexec_detector_snapshot(d, buf, sizeof buf, &len), SHAREEXEC_OK);
    CHECK(len > 0 && len <= sizeof buf);

    shareexec_detector *r = NULL;
    CHECK_RC(shareexec_detector_restore(&c, buf, len, &r), SHAREEXEC_OK);
    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(r, &s), SHAREEXEC_OK);
    CHECK(s.alerts == 1 && s.events == 2);
    shareexec_detector_free(r);
    shareexec_detector_free(d);
}

int main(void) {
    CHECK(strcmp(shareexec_result_describe(SHAREEXEC_SNAPSHOT_ERROR), "unknown result code") != 0);
    split_sequence_still_alerts();
    bad_images_are_refused();
    waiting_verdicts_block_a_snapshot();
    printf("test_snapshot: ok\n");
    return 0;
}
