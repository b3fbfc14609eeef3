/* A trust policy written in C: combined with the default signer policy, replacing it,
 * reasons (given, missing, invalid UTF-8), user data, and re-entrant calls. */
#include "check.h"

typedef struct {
    const char *allowed_sha256; /* trust executions with this process.hash.sha256 */
    const char *reason;         /* what to say (NULL: leave the reason missing) */
    int calls;
    int saw_nul_terminated;
    shareexec_detector *self;   /* set to call back into the handle (must be refused) */
    shareexec_result reentrant_rc;
} allow_list;

static int32_t trust_by_hash(void *user_data, const shareexec_process_event *e,
                             shareexec_str *reason) {
    allow_list *a = user_data;
    a->calls++;
    if (e->executable.ptr != NULL && e->executable.ptr[e->executable.len] == '\0' &&
        e->host_id.ptr != NULL && e->host_id.ptr[e->host_id.len] == '\0') {
        a->saw_nul_terminated++;
    }
    if (a->self != NULL) {
        a->reentrant_rc = shareexec_detector_flush(a->self);
        shareexec_detector_free(a->self); /* ignored while the handle is in use */
    }
    if (e->hash.sha256.ptr == NULL || strcmp(e->hash.sha256.ptr, a->allowed_sha256) != 0) {
        return 0;
    }
    if (a->reason != NULL) {
        *reason = S(a->reason);
    }
    return 1;
}

/* Feeds write + start of `path` on host h, the start carrying `sha256` and `signer`. */
static void sequence(shareexec_detector *d, const char *path, const char *sha256,
                     const char *signer, int64_t t) {
    shareexec_file_event w = smb_write("h", path, t, 1);
    shareexec_process_event p = start("h", path, t + SECOND, 2);
    p.hash.sha256 = S(sha256);
    if (signer != NULL) {
        p.code_signature.has_trusted = 1;
        p.code_signature.trusted = 1;
        p.code_signature.subject_name = S(signer);
    }
    CHECK_RC(shareexec_detector_feed_file(d, &w), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_feed_process(d, &p), SHAREEXEC_OK);
    CHECK_RC(shareexec_detector_flush(d), SHAREEXEC_OK); /* hardened holds the last event */
}

static void combined_with_default(void) {
    allow_list a = {"aa11", "allow-listed deployment tool", 0, 0, NULL, SHAREEXEC_OK};
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.trust_mode = SHAREEXEC_TRUST_WITH_DEFAULT;
    c.trust_callback = trust_by_hash;
    c.trust_user_data = &a;
    shareexec_detector *d = new_detector(&c);
    shareexec_verdict v;

    sequence(d, "C:\\deploy.exe", "aa11", NULL, T0);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_SUPPRESSED);
    CHECK(str_is(v.reason, "allow-listed deployment tool"));
    CHECK(str_is(v.process_hash.sha256, "aa11"));

    sequence(d, "C:\\evil.exe", "bb22", NULL, T0 + 10 * SECOND);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);

    /* The signer policy is asked first: the callback never sees this one. */
    sequence(d, "C:\\av.exe", "cc33", "CrowdStrike, Inc.", T0 + 20 * SECOND);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_SUPPRESSED);
    CHECK(str_is(v.reason, "trusted signer \"CrowdStrike, Inc.\""));

    CHECK(a.calls == 2 && a.saw_nul_terminated == 2);
    /* Events that complete no sequence never reach the policy. */
    shareexec_process_event lone = start("h", "C:\\other.exe", T0 + 30 * SECOND, 3);
    CHECK_RC(shareexec_detector_feed_process(d, &lone), SHAREEXEC_OK);
    CHECK(a.calls == 2);
    shareexec_detector_free(d);
}

static void replacing_default(void) {
    allow_list a = {"aa11", NULL, 0, 0, NULL, SHAREEXEC_OK};
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.trust_mode = SHAREEXEC_TRUST_REPLACE_DEFAULT;
    c.trust_callback = trust_by_hash;
    c.trust_user_data = &a;
    shareexec_detector *d = new_detector(&c);
    shareexec_verdict v;

    /* A vendor the default policy trusts alerts: the callback alone decides. */
    sequence(d, "C:\\av.exe", "cc33", "CrowdStrike, Inc.", T0);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);

    /* Trusted with no reason given: the library's default reason. */
    sequence(d, "C:\\deploy.exe", "aa11", NULL, T0 + 10 * SECOND);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_SUPPRESSED);
    CHECK(str_is(v.reason, "trusted by the embedder's policy"));
    CHECK(a.calls == 2);
    shareexec_detector_free(d);

    /* Replace mode without a callback trusts nothing. */
    memset(&c, 0, sizeof c);
    c.trust_mode = SHAREEXEC_TRUST_REPLACE_DEFAULT;
    d = new_detector(&c);
    sequence(d, "C:\\av.exe", "cc33", "CrowdStrike, Inc.", T0);
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK);
    CHECK(v.kind == SHAREEXEC_VERDICT_ALERT);
    shareexec_detector_free(d);
}

static void invalid_reason_and_reentrancy(void) {
    allow_list a = {"aa11", "caf\xe9 \xff", 0, 0, NULL, SHAREEXEC_OK};
    shareexec_config c;
    memset(&c, 0, sizeof c);
    c.trust_callback = trust_by_hash;
    c.trust_user_data = &a;
    shareexec_detector *d = new_detector(&c);
    a.self = d;
    shareexec_verdict v;
    sequence(d, "C:\\deploy.exe", "aa11", NULL, T0);
    CHECK(a.calls == 1);
    CHECK(a.reentrant_rc == SHAREEXEC_BUSY); /* the nested call was refused */
    CHECK_RC(shareexec_detector_poll(d, &v), SHAREEXEC_OK); /* and the nested free ignored */
    CHECK(v.kind == SHAREEXEC_VERDICT_SUPPRESSED);
    /* Invalid UTF-8 in the reason is replaced with U+FFFD (EF BF BD). */
    CHECK(str_is(v.reason, "caf\xef\xbf\xbd \xef\xbf\xbd"));
    shareexec_detector_free(d);
}

int main(void) {
    combined_with_default();
    replacing_default();
    invalid_reason_and_reentrancy();
    printf("test_policy: ok\n");
    return 0;
}
