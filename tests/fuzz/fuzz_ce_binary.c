/*
 * fuzz_ce_binary.c - libFuzzer target for lh_codec_decode_ce_binary(), CloudEvents binary mode
 * (the attributes arrive as Kafka ce_* or HTTP ce-* headers, the CDEvent as the value).
 *
 * Input layout, the way a header block reads: attribute lines "name: value\n" up to the first
 * empty line, then the data. A "ce_"/"ce-" prefix on a name is dropped, as the adapters do; a
 * line without ':' is an attribute with a NULL value. Every value is its own exact-size
 * allocation without a NUL after it, so a read past value_len is caught by AddressSanitizer.
 *
 * Properties checked: exactly one sink call; an accepted event keeps a raw copy, survives
 * normalize/validate and encodes to protobuf; everything is freed.
 *
 * The same lines, names kept as they are (prefix included), are also the transport headers of
 * lh_codec_decode_msg(), the entry point the hub uses for every transport: it reports every
 * sink call it counts, and when the lines are a binary-mode message (every name "ce_"/"ce-"
 * prefixed or content-type, a specversion among them, no structured content type) it gives the
 * same verdict and the same event as lh_codec_decode_ce_binary() on the stripped names.
 */
#include "fuzz.h"

#include <strings.h>

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"

#define MAX_ATTRS 32

/* The first verdict of a decode, kept to compare two entry points. */
typedef struct {
    int calls;
    int accepted, err;
    char why[320];
    lh_buf_t pb, raw;
} verdict_t;

static int
keep_sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    verdict_t *v = arg;
    (void)id;
    if (v->calls++ == 0) {
        v->accepted = ev != NULL;
        v->err = err;
        snprintf(v->why, sizeof v->why, "%s", why ? why : "");
        if (ev) {
            FUZZ_CHECK(lh_codec_pb_encode(ev, &v->pb) == 0, "pb encode");
            if (ev->raw)
                FUZZ_CHECK(lh_buf_append(&v->raw, ev->raw, ev->raw_len) == 0, "copy raw");
        }
    }
    lh_event_destroy(&ev);
    return 0;
}

static int
sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    int *calls = arg;
    char w[320];
    lh_buf_t b = LH_BUF_INIT;

    (*calls)++;
    (void)id;
    if (!ev) {
        FUZZ_CHECK(err < 0 && why && *why, "rejection without a code or a reason");
        return 0;
    }
    FUZZ_CHECK(ev->raw && ev->raw_len > 0, "binary-mode event without its raw CloudEvent");
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
    lh_kv_t attrs[MAX_ATTRS], hdrs[MAX_ATTRS];
    size_t n = 0, pos = 0;
    int eligible = 1, spec = 0; /* the lines are a binary-mode message (see the top) */

    while (pos < size && n < MAX_ATTRS) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        if (end == pos) { /* the empty line: data follows */
            pos++;
            break;
        }
        const uint8_t *colon = memchr(data + pos, ':', end - pos);
        size_t kend = colon ? (size_t)(colon - data) : end;
        size_t kstart = pos;
        if (kend - kstart > 3 && data[kstart] == 'c' && data[kstart + 1] == 'e' &&
            (data[kstart + 2] == '_' || data[kstart + 2] == '-'))
            kstart += 3;
        char *key = malloc(kend - kstart + 1);
        char *hkey = malloc(kend - pos + 1);
        if (!key || !hkey) {
            free(key);
            free(hkey);
            break;
        }
        memcpy(key, data + kstart, kend - kstart);
        key[kend - kstart] = '\0';
        memcpy(hkey, data + pos, kend - pos);
        hkey[kend - pos] = '\0';
        char *value = NULL;
        size_t vlen = 0;
        if (colon) {
            size_t vstart = kend + 1;
            while (vstart < end && data[vstart] == ' ')
                vstart++;
            vlen = end - vstart;
            value = malloc(vlen ? vlen : 1);
            if (!value) {
                free(key);
                free(hkey);
                break;
            }
            if (vlen)
                memcpy(value, data + vstart, vlen);
        }
        attrs[n].key = key;
        attrs[n].value = value;
        attrs[n].value_len = vlen;
        hdrs[n] = attrs[n];
        hdrs[n].key = hkey;
        if (kstart > pos) {
            spec |= strcasecmp(hkey + 3, "specversion") == 0;
        } else if (strcasecmp(hkey, "content-type") == 0) {
            const char *v = value ? value : "";
            size_t vl = value ? vlen : 0, k = 0;
            while (k < vl && (v[k] == ' ' || v[k] == '\t'))
                k++;
            if (vl - k >= 23 && strncasecmp(v + k, "application/cloudevents", 23) == 0)
                eligible = 0;
        } else {
            eligible = 0; /* another header: an attribute here, ignored as a transport's */
        }
        n++;
        pos = nl ? end + 1 : size;
    }

    /* the data in its own allocation, so a read past its end is caught too */
    size_t len = size - pos;
    uint8_t *body = len ? malloc(len) : NULL;
    if (len && body)
        memcpy(body, data + pos, len);

    int calls = 0;
    int rc = lh_codec_decode_ce_binary(attrs, n, body, body ? len : 0, NULL, sink, &calls);
    FUZZ_CHECK(rc == LH_ENOMEM || (rc == 1 && calls == 1), "returned %d after %d sink calls", rc,
               calls);

    /* once more under a payload limit smaller than the data */
    lh_limits_t lim;
    lh_codec_opts_t o;
    lh_limits_default(&lim);
    lim.max_payload = 64;
    lh_codec_opts_default(&o);
    o.limits = &lim;
    calls = 0;
    rc = lh_codec_decode_ce_binary(attrs, n, body, body ? len : 0, &o, sink, &calls);
    FUZZ_CHECK(rc == LH_ENOMEM || (rc == 1 && calls == 1), "returned %d after %d sink calls", rc,
               calls);

    /* the transport entry point, headers as they came */
    verdict_t vm = {0, 0, 0, "", LH_BUF_INIT, LH_BUF_INIT};
    verdict_t vb = {0, 0, 0, "", LH_BUF_INIT, LH_BUF_INIT};
    rc = lh_codec_decode_msg(body, body ? len : 0, LH_FMT_AUTO, hdrs, n, NULL, keep_sink, &vm);
    FUZZ_CHECK(rc == LH_ENOMEM || (rc >= 1 && rc == vm.calls), "msg: returned %d after %d calls",
               rc, vm.calls);
    if (rc >= 1 && eligible && spec) {
        int rb = lh_codec_decode_ce_binary(attrs, n, body, body ? len : 0, NULL, keep_sink, &vb);
        if (rb >= 1) {
            FUZZ_CHECK(vm.calls == 1 && vb.calls == 1, "binary mode: %d and %d calls", vm.calls,
                       vb.calls);
            FUZZ_CHECK(vm.accepted == vb.accepted && vm.err == vb.err &&
                           strcmp(vm.why, vb.why) == 0,
                       "headers and attributes disagree: '%s' / '%s'", vm.why, vb.why);
            FUZZ_CHECK(vm.pb.len == vb.pb.len &&
                           (vm.pb.len == 0 || memcmp(vm.pb.data, vb.pb.data, vm.pb.len) == 0),
                       "headers and attributes give different events");
            FUZZ_CHECK(vm.raw.len == vb.raw.len &&
                           (vm.raw.len == 0 || memcmp(vm.raw.data, vb.raw.data, vm.raw.len) == 0),
                       "headers and attributes give different raw CloudEvents");
        }
    }
    lh_buf_free(&vm.pb);
    lh_buf_free(&vm.raw);
    lh_buf_free(&vb.pb);
    lh_buf_free(&vb.raw);

    free(body);
    for (size_t i = 0; i < n; i++) {
        free((char *)attrs[i].key);
        free((char *)hdrs[i].key);
        free((char *)attrs[i].value);
    }
    return 0;
}
