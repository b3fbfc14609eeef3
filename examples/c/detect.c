/* Alerts on Elastic Defend NDJSON read from standard input, with shareexec's C API.
 * Build (from the repository root):
 *   cargo build --release -p shareexec-ffi && cc -Iinclude examples/c/detect.c target/release/libshareexec.a -lpthread -ldl -lm -o detect
 * Run: ./detect < tests/fixtures/tp/psexec-defend.ndjson */
#include <stdio.h>
#include <string.h>
#include "shareexec.h"

static void print_verdicts(shareexec_detector *d) {
    static char json[1 << 16];
    size_t len;
    shareexec_verdict v;
    while (shareexec_detector_poll(d, &v) == SHAREEXEC_OK) /* v's strings: valid until next poll */
        if (v.kind == SHAREEXEC_VERDICT_ALERT && shareexec_detector_verdict_json(d, json, sizeof json, &len) == SHAREEXEC_OK)
            puts(json);
}

int main(void) {
    static char line[1 << 20];
    shareexec_detector *d;
    if (shareexec_detector_new(NULL, &d) != SHAREEXEC_OK) return 1; /* NULL: default config */
    for (uint64_t n = 1; fgets(line, sizeof line, stdin); n++) {
        if (shareexec_detector_feed_json(d, (const uint8_t *)line, strlen(line), n) != SHAREEXEC_OK)
            fprintf(stderr, "line %llu: %s\n", (unsigned long long)n, shareexec_detector_last_error(d));
        print_verdicts(d);
    }
    shareexec_detector_flush(d); /* end of input: release events held for ordering */
    print_verdicts(d);
    shareexec_detector_free(d);
    return 0;
}
