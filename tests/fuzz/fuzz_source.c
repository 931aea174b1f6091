/*
 * fuzz_source.c - libFuzzer target for the webhook sources (lh_codec_decode_src(): GitHub,
 * GitLab, Grafana, PagerDuty, Jira, Flux, Tekton; docs/sources.md).
 *
 * Input layout: a first line naming the route the payload came to ("auto" for POST /v1/events,
 * else a source's name, as POST /v1/sources/<name>; a trailing "!" sets a secret for every
 * source, "s3cret", so the signature checks run too), then header lines "Name: value" up to the
 * first empty line, then the body. Every header value and the body are exact-size allocations
 * with no NUL after them, so a read past their end is caught by AddressSanitizer.
 *
 * Properties checked: the return is the number of sink calls (>= 1) or LH_ENOMEM; a rejection has
 * a negative code and a reason; an ignored payload has a reason; an accepted event carries its
 * source's format as raw_format and the raw bytes, survives normalize/validate and encodes to
 * protobuf and JSON; the source reported is the route's when one was named; everything is
 * freed. Seeds with a "!" and a valid signature reach the decoders past the check; the others
 * exercise the signature parsers.
 */
#include "fuzz.h"

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"

#define MAX_HEADERS 32

typedef struct {
    int calls, accepted;
    int hint;
} state_t;

static int
sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    state_t *s = arg;
    char w[320];
    lh_buf_t b = LH_BUF_INIT;
    (void)id;
    s->calls++;
    if (!ev) {
        if (err == LH_IGNORED)
            FUZZ_CHECK(why && *why, "ignored without a reason");
        else
            FUZZ_CHECK(err < 0 && why && *why, "rejection without a code or a reason");
        return 0;
    }
    s->accepted++;
    /* The auto route (POST /v1/events) also reads the hub's other formats (its protobuf, whose
     * events carry no raw bytes, Alertmanager, ...): only what a source decoded is checked. */
    int from_source = ev->raw_format >= LH_FMT_GITHUB && ev->raw_format <= LH_FMT_TEKTON;
    FUZZ_CHECK(s->hint == LH_FMT_AUTO || from_source, "raw_format %d on the route of source %d",
               ev->raw_format, s->hint);
    if (from_source)
        FUZZ_CHECK(ev->raw && ev->raw_len > 0, "source event without its raw bytes");
    FUZZ_CHECK(s->hint == LH_FMT_AUTO || ev->raw_format == s->hint,
               "came to the route of format %d, read as %d", s->hint, ev->raw_format);
    FUZZ_CHECK(lh_event_normalize(ev) == 0, "normalize");
    (void)lh_event_validate(ev, NULL, 0, w, sizeof w);
    FUZZ_CHECK(lh_codec_pb_encode(ev, &b) == 0, "pb encode");
    (void)lh_codec_json_encode(ev, &b);
    lh_buf_free(&b);
    lh_event_destroy(&ev);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t pos = nl ? (size_t)(nl - data) + 1 : size;
    char route[16] = "";
    size_t rl = nl ? (size_t)(nl - data) : size;
    int secret = rl > 0 && data[rl - 1] == '!';
    if (secret)
        rl--;
    if (rl < sizeof(route)) {
        memcpy(route, data, rl);
        route[rl] = 0;
    }
    int src = lh_source_by_name(route);
    lh_format_t hint = src == LH_SRC_NONE ? LH_FMT_AUTO : (lh_format_t)(LH_FMT_GITHUB + src);

    lh_kv_t hdrs[MAX_HEADERS];
    size_t n = 0;
    while (pos < size && n < MAX_HEADERS) {
        const uint8_t *e = memchr(data + pos, '\n', size - pos);
        size_t end = e ? (size_t)(e - data) : size;
        if (end == pos) {
            pos++;
            break;
        }
        const uint8_t *colon = memchr(data + pos, ':', end - pos);
        size_t kend = colon ? (size_t)(colon - data) : end;
        char *key = malloc(kend - pos + 1);
        if (!key)
            break;
        memcpy(key, data + pos, kend - pos);
        key[kend - pos] = 0;
        char *value = NULL;
        size_t vlen = 0;
        if (colon) {
            size_t v = kend + 1;
            while (v < end && data[v] == ' ')
                v++;
            vlen = end - v;
            value = malloc(vlen ? vlen : 1);
            if (!value) {
                free(key);
                break;
            }
            if (vlen)
                memcpy(value, data + v, vlen);
        }
        hdrs[n++] = (lh_kv_t){key, value, vlen};
        pos = e ? end + 1 : size;
    }
    size_t len = size - pos;
    uint8_t *body = len ? malloc(len) : NULL;
    if (len && body)
        memcpy(body, data + pos, len);

    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    for (int i = 0; secret && i < LH_SRC_COUNT; i++)
        o.src.secret[i] = "s3cret";
    o.src.github_workflows = "*"; /* every workflow run is read as a deploy */
    o.src.pagerduty_services = "PF9KMXH=api,P1=web";
    o.src.jira_deploy_field = "customfield_10050";

    state_t st = {0, 0, (int)hint};
    int got = -2;
    int rc = lh_codec_decode_src(body, body ? len : 0, hint, hdrs, n, &o, sink, &st, &got);
    FUZZ_CHECK(rc == LH_ENOMEM || (rc >= 1 && rc == st.calls), "returned %d after %d calls", rc,
               st.calls);
    FUZZ_CHECK(got == LH_SRC_NONE || (got >= 0 && got < LH_SRC_COUNT), "source %d", got);
    FUZZ_CHECK(src == LH_SRC_NONE || rc < 0 || got == src, "route %d, read by %d", src, got);

    free(body);
    for (size_t i = 0; i < n; i++) {
        free((char *)hdrs[i].key);
        free((char *)hdrs[i].value);
    }
    return 0;
}
