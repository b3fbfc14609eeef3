/* Detection through the C API: a true positive from structs, a suppression, JSON-line
 * input, verdict JSON with a too-small buffer, counters, time control, late events. */
#include "check.h"

static void true_positive_from_structs(void) {
    shareexec_detector *d = new_detector(NULL);
    shareexec_file_event w = smb_write("host-1", "C:\\Windows\\Temp\\EVIL.EXE", T0, 1);
    w.origin.id = S("w1");
    w.origin.has_sequence = 1;
    w.origin.sequence = 41;
    w.hash.sha256 = S("aa11");
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    /* Hardened semantics (the default): the path joins ignoring case. */
    shareexec_process_event p = start("host-1", "c:\\windows\\temp\\evil.exe", T0 + 10 * SECOND, 2);
    p.origin.id = S("p1");
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    CHECK(strcmp(shareexec_detector_last_error(d), "") == 0);
    /* Hardened semantics holds the execution until a later event of its host (equal
     * timestamps are ordered by event.sequence): flush to end the input. */
    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_NO_VERDICT);
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);

    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);
    CHECK(str_is(v.host_id, "host-1"));
    CHECK(str_is(v.path, "C:\\Windows\\Temp\\EVIL.EXE"));
    CHECK(str_is(v.executable, "c:\\windows\\temp\\evil.exe"));
    CHECK(v.span_ns == 10 * SECOND);
    CHECK(v.alert_id != 0);
    CHECK(v.write.position == 1 && v.execution.position == 2);
    CHECK(v.write.timestamp_ns == T0 && v.execution.timestamp_ns == T0 + 10 * SECOND);
    CHECK(v.write.has_sequence == 1 && v.write.sequence == 41);
    CHECK(v.execution.has_sequence == 0);
    CHECK(str_is(v.write.id, "w1") && str_is(v.execution.id, "p1"));
    CHECK(v.has_pid == 1 && v.pid == 5000);
    CHECK(v.code_signature.has_trusted == 0 && v.code_signature.has_exists == 0);
    CHECK(str_is(v.code_signature.subject_name, NULL));
    CHECK(str_is(v.file_hash.sha256, "aa11") && str_is(v.file_hash.md5, NULL));
    CHECK(str_is(v.reason, NULL));

    /* The same events give the same alert id in another detector. */
    uint64_t id = v.alert_id;
    shareexec_detector *d2 = new_detector(NULL);
    CHECK_RC(shareexec_detector_feed_file(d2, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d2, &p), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_flush(d2), SHAREEXEC_OK);
    shareexec_verdict v2;
    CHECK_RC(shareexec_detector_poll(d2, &v2), SHAREEXEC_OK);
    CHECK(v2.alert_id == id);
    shareexec_detector_free(d2);

    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_NO_VERDICT);
    CHECK(v.kind == SHAREEXEC_VERDICT_NONE && v.host_id.ptr == NULL);

    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.events == 2 && s.writes == 1 && s.executions == 1 && s.alerts == 1);
    CHECK(s.suppressed == 0 && s.pending == 0 && s.hosts == 1);
    shareexec_detector_free(d);
}

static void elasticsearch_semantics_is_case_sensitive(void) {
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.semantics = SHAREEXEC_SEMANTICS_ELASTICSEARCH;
    shareexec_detector *d = new_detector(&c);
    shareexec_file_event w = smb_write("h", "C:\\Windows\\EVIL.EXE", T0, 1);
    shareexec_process_event p = start("h", "C:\\Windows\\evil.exe", T0 + SECOND, 2);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_NO_VERDICT);
    /* A missing host never joins; an empty string is a value. */
    w = smb_write(NULL, "C:\\x.exe", T0 + 2 * SECOND, 3);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.unkeyed == 1);
    w = smb_write("", "C:\\x.exe", T0 + 2 * SECOND, 4);
    p = start("", "C:\\x.exe", T0 + 3 * SECOND, 5);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT && str_is(v.host_id, ""));
    shareexec_detector_free(d);
}

static void suppression_by_trusted_signer(void) {
    shareexec_detector *d = new_detector(NULL);
    shareexec_file_event w = smb_write("h", "C:\\Windows\\agent.exe", T0, 1);
    shareexec_process_event p = start("h", "C:\\Windows\\agent.exe", T0 + SECOND, 2);
    p.code_signature.has_exists = 1;
    p.code_signature.exists = 1;
    p.code_signature.has_trusted = 1;
    p.code_signature.trusted = 1;
    p.code_signature.subject_name = S("Sophos Ltd");
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_SUPPRESSED);
    CHECK(str_is(v.reason, "trusted signer \"Sophos Ltd\""));
    CHECK(v.code_signature.has_trusted == 1 && v.code_signature.trusted == 1);
    CHECK(str_is(v.code_signature.subject_name, "Sophos Ltd"));

    /* Signed by the vendor but `trusted` missing: missing is not true, it alerts. */
    w.origin.timestamp_ns = T0 + 2 * SECOND;
    p.origin.timestamp_ns = T0 + 3 * SECOND;
    p.code_signature.has_trusted = 0;
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);

    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.suppressed == 1 && s.alerts == 1);
    shareexec_detector_free(d);
}

static const char *const JSON_LINES[] = {
    "{\"id\": \"f1\", \"@timestamp\": \"2024-01-03T14:00:00.000Z\", \"event\": {\"category\": "
    "[\"file\"], \"type\": [\"creation\"]}, \"host\": {\"id\": \"h1\", \"os\": {\"type\": "
    "\"windows\"}}, \"process\": {\"pid\": 4, \"name\": \"System\"}, \"file\": {\"path\": "
    "\"C:\\\\Windows\\\\Temp\\\\evil.exe\", \"extension\": \"exe\", \"Ext\": {\"header_bytes\": "
    "\"4d5a9000\"}}}",
    "",
    "   \r\n",
    "{\"@timestamp\":\"2024-01-03T14:00:05Z\",\"event\":{\"category\":\"network\"},\"host\":{\"id\":\"h1\"}}\n",
    "{\"id\": \"p1\", \"@timestamp\": \"2024-01-03T14:00:10.000Z\", \"event\": {\"category\": "
    "[\"process\"], \"type\": [\"start\"]}, \"host\": {\"id\": \"h1\", \"os\": {\"type\": "
    "\"windows\"}}, \"process\": {\"pid\": 5000, \"executable\": "
    "\"C:\\\\Windows\\\\Temp\\\\evil.exe\", \"name\": \"evil.exe\", \"code_signature\": "
    "{\"trusted\": false, \"subject_name\": \"Evil\"}}}",
};

static void json_lines_and_verdict_json(void) {
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.source = S("events.ndjson");
    shareexec_detector *d = new_detector(&c);
    size_t n = sizeof JSON_LINES / sizeof JSON_LINES[0];
    for (size_t i = 0; i < n; i++) {
        CHECK_RC(shareexec_detector_feed_json(d, (const uint8_t *)JSON_LINES[i],
                                              strlen(JSON_LINES[i]), i + 1),
                 SHAREEXEC_OK);
    }
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.events == 2); /* blank lines are skipped; the network line is valid but no event */

    /* No verdict polled yet: nothing to render. */
    size_t len = 99;
    CHECK_RC(shareexec_detector_verdict_json(d, NULL, 0, &len), SHAREEXEC_NO_VERDICT);
    CHECK(len == 0);

    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);
    CHECK(v.write.position == 1 && v.execution.position == 5);
    CHECK(str_is(v.write.id, "f1") && str_is(v.execution.id, "p1"));
    CHECK(str_is(v.code_signature.subject_name, "Evil"));
    CHECK(v.code_signature.has_trusted == 1 && v.code_signature.trusted == 0);

    /* Ask the size, get BUFFER_TOO_SMALL with a small buffer, then render. */
    CHECK_RC(shareexec_detector_verdict_json(d, NULL, 0, &len), SHAREEXEC_BUFFER_TOO_SMALL);
    CHECK(len > 100);
    char small[16];
    memset(small, 'x', sizeof small);
    size_t len2 = 0;
    CHECK_RC(shareexec_detector_verdict_json(d, small, sizeof small, &len2),
             SHAREEXEC_BUFFER_TOO_SMALL);
    CHECK(len2 == len && small[0] == 'x'); /* nothing written */
    char *exact = malloc(len); /* one byte short: no room for the NUL */
    CHECK(exact != NULL);
    CHECK_RC(shareexec_detector_verdict_json(d, exact, len, &len2), SHAREEXEC_BUFFER_TOO_SMALL);
    free(exact);
    char *json = malloc(len + 1);
    CHECK(json != NULL);
    CHECK_RC(shareexec_detector_verdict_json(d, json, len + 1, &len2), SHAREEXEC_OK);
    CHECK(len2 == len && json[len] == '\0' && strlen(json) == len);
    CHECK(strstr(json, "\"verdict\":\"alert\"") != NULL);
    CHECK(strstr(json, "\"T1021.002\"") != NULL);
    CHECK(strstr(json, "\"line\":1") != NULL && strstr(json, "\"line\":5") != NULL);
    CHECK(strstr(json, "\"source\":\"events.ndjson\"") != NULL);
    /* The views of the current verdict are still valid after rendering. */
    CHECK(str_is(v.host_id, "h1"));
    free(json);

    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_NO_VERDICT);
    CHECK_RC(shareexec_detector_verdict_json(d, NULL, 0, &len), SHAREEXEC_NO_VERDICT);
    shareexec_detector_free(d);
}

static void time_control_and_late_events(void) {
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.max_lateness_ns = 5 * SECOND;
    shareexec_detector *d = new_detector(&c);
    int64_t deadline = -1;
    CHECK_RC(shareexec_detector_next_deadline(d, &deadline), SHAREEXEC_NO_DEADLINE);
    CHECK(deadline == 0);

    shareexec_file_event w = smb_write("h", "C:\\a.exe", T0, 1);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    shareexec_stats s;
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.buffered == 1); /* held for reordering */
    CHECK_RC(shareexec_detector_next_deadline(d, &deadline), SHAREEXEC_OK);
    CHECK(deadline == T0);

    shareexec_process_event p = start("h", "C:\\a.exe", T0 + SECOND, 2);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    shareexec_verdict v;
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_NO_VERDICT); /* still held */
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT && v.span_ns == SECOND);

    /* A pending write expires once the watermark passes its maxspan. */
    w = smb_write("h", "C:\\b.exe", T0 + 100 * SECOND, 3);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_advance(d, T0 + 100 * SECOND), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.pending == 1 && s.buffered == 0);
    CHECK_RC(shareexec_detector_next_deadline(d, &deadline), SHAREEXEC_OK);
    CHECK(deadline == T0 + 160 * SECOND + 1);
    CHECK_RC(shareexec_detector_advance(d, deadline), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_stats(d, &s), SHAREEXEC_OK);
    CHECK(s.pending == 0 && s.expired == 1);

    /* An event more than the lateness behind its host's clock is late (and still used). */
    w = smb_write("h", "C:\\c.exe", T0 + 200 * SECOND, 4);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK);
    w = smb_write("h", "C:\\d.exe", T0 + 150 * SECOND, 5);
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_LATE);
    CHECK(v.late_stage == SHAREEXEC_STAGE_WRITE);
    CHECK(v.late_event.position == 5 && v.late_event.timestamp_ns == T0 + 150 * SECOND);
    CHECK(v.late_behind_ns >= 50 * SECOND);
    CHECK(str_is(v.host_id, "h") && str_is(v.path, NULL));
    size_t len = 0;
    CHECK_RC(shareexec_detector_verdict_json(d, NULL, 0, &len), SHAREEXEC_BUFFER_TOO_SMALL);
    char *json = malloc(len + 1);
    CHECK(json != NULL);
    CHECK_RC(shareexec_detector_verdict_json(d, json, len + 1, &len), SHAREEXEC_OK);
    CHECK(strstr(json, "\"verdict\":\"late\"") != NULL);
    free(json);
    shareexec_detector_free(d);
}

int main(void) {
    CHECK(strcmp(shareexec_version(), SHAREEXEC_VERSION) == 0);
    true_positive_from_structs();
    elasticsearch_semantics_is_case_sensitive();
    suppression_by_trusted_signer();
    json_lines_and_verdict_json();
    time_control_and_late_events();
    printf("test_detect: ok\n");
    return 0;
}
