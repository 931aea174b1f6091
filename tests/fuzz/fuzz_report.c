/*
 * fuzz_report.c - libFuzzer target for the parameters of the reports (GET /v1/deployed,
 * /v1/audit, /v1/dora and the pages take them from anyone who can reach the port): the first
 * byte picks the report, the rest is read as a query string, "name=value" pairs split at '&'
 * (a pair without '=' is a bare flag), each handed to lh_report_req_set() as the HTTP adapter
 * hands it.
 *
 * Properties checked: a refused pair says why in a NUL-terminated message that names the
 * parameter; an accepted one leaves a request whose period computes or is refused as a whole
 * (never a negative duration accepted), and the kind never changes.
 */
#include "fuzz.h"

#include "loophub/error.h"
#include "loophub/report.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    lh_report_kind_t kind = (lh_report_kind_t)(data[0] % 4);
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    lh_report_req_t r;
    lh_report_req_default(&r, kind);
    for (char *p = s, *next; p; p = next) {
        next = strchr(p, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(p, '=');
        const char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        char err[200];
        memset(err, 'x', sizeof(err));
        int rc = lh_report_req_set(&r, p, value, err, sizeof(err));
        FUZZ_CHECK(rc == 0 || rc == LH_EINVAL, "set %s: %d", p, rc);
        if (rc < 0) {
            FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "%s: the message is not ended", p);
            FUZZ_CHECK(!strncmp(err, p, strnlen(p, 16)) || !strcmp(err, "no parameter"),
                       "%s: the message does not name it: %s", p, err);
        }
        FUZZ_CHECK(r.kind == kind, "the kind changed");
        FUZZ_CHECK(r.since_ns >= 0 && r.until_ago_ns >= 0 && r.at_ago_ns >= 0 && r.limit >= 0,
                   "a negative value was accepted");
    }
    int64_t from = 0, to = 0;
    int rc = lh_report_period(&r, 1764151200LL * 1000000000LL, &from, &to);
    FUZZ_CHECK(rc == 0 ? to >= from || kind == LH_REPORT_DEPLOYED : rc == LH_EINVAL,
               "period %lld..%lld: %d", (long long)from, (long long)to, rc);
    free(s);
    return 0;
}
