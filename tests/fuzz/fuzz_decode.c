/*
 * fuzz_decode.c - libFuzzer target for lh_codec_decode(), the entry point every transport feeds
 * untrusted bytes to: format detection, protobuf, loophub JSON (objects and batches),
 * CloudEvents/CDEvents and Alertmanager.
 *
 * Each input is decoded with LH_FMT_AUTO, then once more with a forced format (picked from the
 * input's length) so the decoders also see payloads meant for another one. Every accepted event
 * goes through what the hub does with it: lh_event_normalize(), lh_event_validate() (against a
 * fixed clock, and with the future check off), lh_codec_pb_encode() and lh_codec_json_encode().
 *
 * Properties checked: protobuf encoding never fails on a decoded event and decodes back to the
 * same id, kind, time and counts; an event that passed validation encodes to JSON and decodes
 * back to the same id, kind and time; the decoder reports at least one sink call; everything is
 * freed (LeakSanitizer).
 */
#include "fuzz.h"

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"

/* 2030-01-01T00:00:00Z: a fixed clock, so an input always behaves the same. */
#define FUZZ_NOW 1893456000000000000LL

static void
check_pb_round_trip(const lh_event_t *ev)
{
    lh_buf_t b = LH_BUF_INIT;
    lh_event_t *back = NULL;
    char why[256];

    int rc = lh_codec_pb_encode(ev, &b);
    FUZZ_CHECK(rc == 0, "pb encode: %s", lh_strerror(rc));
    rc = lh_codec_pb_decode(b.data, b.len, &back, why, sizeof why);
    FUZZ_CHECK(rc == 0, "pb re-decode: %s", why);
    FUZZ_CHECK(fuzz_streq(ev->id, back->id), "id '%s' came back as '%s'", ev->id ? ev->id : "",
               back->id ? back->id : "");
    FUZZ_CHECK(ev->kind == back->kind, "kind %d came back as %d", ev->kind, back->kind);
    FUZZ_CHECK(ev->time_ns == back->time_ns, "time %lld came back as %lld", (long long)ev->time_ns,
               (long long)back->time_ns);
    FUZZ_CHECK(ev->n_hosts == back->n_hosts, "%zu hosts came back as %zu", ev->n_hosts,
               back->n_hosts);
    FUZZ_CHECK(ev->n_labels == back->n_labels, "%zu labels came back as %zu", ev->n_labels,
               back->n_labels);
    FUZZ_CHECK(ev->ticket.n_links == back->ticket.n_links, "%zu links came back as %zu",
               ev->ticket.n_links, back->ticket.n_links);
    lh_event_destroy(&back);
    lh_buf_free(&b);
}

static void
check_json_round_trip(const lh_event_t *ev, int valid)
{
    lh_buf_t b = LH_BUF_INIT;
    lh_event_t *back = NULL;
    char why[320];

    int rc = lh_codec_json_encode(ev, &b);
    if (!valid) {
        /* not valid UTF-8, no body, ...: the encoder may refuse, but must not crash or leak */
        lh_buf_free(&b);
        return;
    }
    FUZZ_CHECK(rc == 0, "json encode of a valid event: %s", lh_strerror(rc));
    rc = lh_codec_json_decode((const char *)b.data, b.len, &back, why, sizeof why);
    FUZZ_CHECK(rc == 0, "json re-decode of '%s': %s", (const char *)b.data, why);
    FUZZ_CHECK(fuzz_streq(ev->id, back->id), "id '%s' came back as '%s'", ev->id,
               back->id ? back->id : "");
    FUZZ_CHECK(ev->kind == back->kind, "kind %d came back as %d", ev->kind, back->kind);
    FUZZ_CHECK(ev->time_ns == back->time_ns, "time %lld came back as %lld", (long long)ev->time_ns,
               (long long)back->time_ns);
    lh_event_destroy(&back);
    lh_buf_free(&b);
}

static int
sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    int *calls = arg;
    char w[320];

    (*calls)++;
    if (!ev) {
        FUZZ_CHECK(err < 0, "rejection without an error code");
        FUZZ_CHECK(why && *why, "rejection without a reason");
        (void)id;
        return 0;
    }
    int rc = lh_event_normalize(ev);
    FUZZ_CHECK(rc == 0, "normalize: %s", lh_strerror(rc));
    (void)lh_event_validate(ev, NULL, 0, w, sizeof w);
    int valid = lh_event_validate(ev, NULL, FUZZ_NOW, w, sizeof w) == 0;
    check_pb_round_trip(ev);
    check_json_round_trip(ev, valid);
    lh_event_destroy(&ev);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const lh_format_t forced[] = {LH_FMT_PROTOBUF, LH_FMT_JSON, LH_FMT_CLOUDEVENTS,
                                         LH_FMT_ALERTMANAGER};
    int calls = 0;

    int rc = lh_codec_decode(data, size, LH_FMT_AUTO, NULL, sink, &calls);
    FUZZ_CHECK(rc == LH_ENOMEM || (rc >= 1 && rc == calls), "decode returned %d after %d calls", rc,
               calls);

    calls = 0;
    rc = lh_codec_decode(data, size, forced[size % 4], NULL, sink, &calls);
    FUZZ_CHECK(rc == LH_ENOMEM || (rc >= 1 && rc == calls), "decode(%s) returned %d after %d calls",
               lh_format_name(forced[size % 4]), rc, calls);

    lh_event_t *ev = NULL;
    char why[320];
    if (lh_codec_decode_one(data, size, LH_FMT_AUTO, NULL, &ev, why, sizeof why) == 0)
        FUZZ_CHECK(ev != NULL, "decode_one succeeded without an event");
    lh_event_destroy(&ev);
    if (size > 0 && data[0] == '{' &&
        lh_codec_json_decode((const char *)data, size, &ev, why, sizeof why) == 0)
        FUZZ_CHECK(ev->raw_len == size, "raw copy of %zu bytes for a %zu-byte payload", ev->raw_len,
                   size);
    lh_event_destroy(&ev);
    return 0;
}
