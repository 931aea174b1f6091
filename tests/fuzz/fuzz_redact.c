/*
 * fuzz_redact.c - libFuzzer target for the privacy scrubber (hub/redact, redact.h) with its
 * default rules: lh_redact_bytes() on the input as raw bytes (as the hub scrubs what it could not
 * decode before quarantining it), and lh_redact_event() on every event lh_codec_decode() reads
 * from it (as the pipeline does before anything is stored).
 *
 * Properties checked: the compiled defaults, which skip strings lacking their literals, scrub
 * exactly as the same patterns given as rules of one's own (no prefilter); a scrubbed copy is
 * NUL-terminated at the length reported and holds
 * "[redacted]"; one pass is enough: the rules find nothing more in what they produced, in bytes
 * or in an event; ids and references are never altered; an event that changed keeps no raw bytes;
 * a scrubbed event still encodes to protobuf; everything is freed (LeakSanitizer).
 */
#include "fuzz.h"

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "redact.h"

static lh_redact_t *rules;
static lh_redact_t *unfiltered; /* the same patterns as rules of one's own: no prefilter */

static void
check_bytes(const uint8_t *data, size_t size)
{
    char *out = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    int n = lh_redact_bytes(rules, data, size, &out, &len);
    FUZZ_CHECK(n >= 0, "bytes: %s", lh_strerror(n));
    int nu = lh_redact_bytes(unfiltered, data, size, &again, &len2);
    FUZZ_CHECK(nu == n && (n == 0 || (len2 == len && memcmp(again, out, len) == 0)),
               "the prefilters skipped a match: %d replacements, %d without them", n, nu);
    free(again);
    again = NULL;
    if (n == 0) {
        FUZZ_CHECK(out == NULL, "a copy without a change");
        return;
    }
    FUZZ_CHECK(out && out[len] == 0, "copy not NUL-terminated at %zu", len);
    FUZZ_CHECK(memmem(out, len, LH_REDACTED, strlen(LH_REDACTED)), "no [redacted] in the copy");
    int n2 = lh_redact_bytes(rules, out, len, &again, &len2);
    FUZZ_CHECK(n2 == 0, "a second pass replaced %d more in '%.*s'", n2, (int)len, out);
    free(again);
    free(out);
}

/* The ids and references of an event, copied before it is scrubbed. */
typedef struct {
    char *v[7];
} ids_t;

static void
id_fields(lh_event_t *ev, char ***f)
{
    f[0] = &ev->id;
    f[1] = &ev->deploy.deploy_id;
    f[2] = &ev->deploy.change_ticket;
    f[3] = &ev->alert.fingerprint;
    f[4] = &ev->incident.incident_id;
    f[5] = &ev->incident.ticket;
    f[6] = &ev->ticket.ticket_id;
}

static int
on_event(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    (void)err;
    (void)id;
    (void)why;
    (void)arg;
    if (!ev)
        return 0;
    char **f[7];
    ids_t before;
    id_fields(ev, f);
    for (int i = 0; i < 7; i++)
        before.v[i] = *f[i] ? strdup(*f[i]) : NULL;
    lh_event_t *twin = lh_event_clone(ev);
    int n = lh_redact_event(rules, ev, NULL, NULL);
    FUZZ_CHECK(n >= 0, "event: %s", lh_strerror(n));
    if (twin) {
        lh_buf_t p1 = LH_BUF_INIT, p2 = LH_BUF_INIT;
        int nu = lh_redact_event(unfiltered, twin, NULL, NULL);
        FUZZ_CHECK(nu == n, "the prefilters skipped a match in an event: %d, %d without", n, nu);
        FUZZ_CHECK(lh_codec_pb_encode(ev, &p1) == 0 && lh_codec_pb_encode(twin, &p2) == 0 &&
                       p1.len == p2.len && memcmp(p1.data, p2.data, p1.len) == 0,
                   "scrubbed differently without the prefilters");
        lh_buf_free(&p1);
        lh_buf_free(&p2);
        lh_event_destroy(&twin);
    }
    for (int i = 0; i < 7; i++) {
        FUZZ_CHECK(fuzz_streq(before.v[i], *f[i]), "id field %d altered: '%s' -> '%s'", i,
                   before.v[i] ? before.v[i] : "", *f[i] ? *f[i] : "");
        free(before.v[i]);
    }
    if (n > 0)
        FUZZ_CHECK(ev->raw == NULL && ev->raw_len == 0, "changed, raw bytes kept");
    int n2 = lh_redact_event(rules, ev, NULL, NULL);
    FUZZ_CHECK(n2 == 0, "a second pass over the event replaced %d more", n2);
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_codec_pb_encode(ev, &b);
    FUZZ_CHECK(rc == 0, "pb encode after scrubbing: %s", lh_strerror(rc));
    lh_buf_free(&b);
    lh_event_destroy(&ev);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rules) {
        lh_redact_opts_t o;
        char why[256];
        lh_redact_opts_default(&o);
        FUZZ_CHECK(lh_redact_new(&o, &rules, why, sizeof why) == 0, "default rules: %s", why);
        static const char *values[8];
        static const char *const keys[] = {LH_REDACT_DEFAULT_KEYS};
        size_t n = 0;
        while (n < 8 && (values[n] = lh_redact_default_value(n)))
            n++;
        o.defaults = 0;
        o.keys = keys;
        o.n_keys = 1;
        o.values = values;
        o.n_values = n;
        FUZZ_CHECK(lh_redact_new(&o, &unfiltered, why, sizeof why) == 0, "unfiltered: %s", why);
    }
    check_bytes(data, size);
    int rc = lh_codec_decode(data, size, LH_FMT_AUTO, NULL, on_event, NULL);
    FUZZ_CHECK(rc >= 1 || rc == LH_ENOMEM, "decode made no sink call (%d)", rc);
    return 0;
}
