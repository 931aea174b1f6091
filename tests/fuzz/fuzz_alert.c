/*
 * fuzz_alert.c - libFuzzer target for the correlated-alert decoders: lh_codec_alert_pb_decode()
 * (the outbox and the PUB socket's default encoding, read back by the hub and `loophub tail`)
 * and lh_codec_alert_json_decode() (`loophub tail --format json`). Every input goes to both.
 *
 * Properties checked: what decodes re-encodes in every subscriber format without crashing;
 * protobuf decode(encode(a)) succeeds with the same id, seq, kind, revision, resolved flag and
 * suspect, change, outcome and rollback counts; an alert read from JSON encodes back to JSON,
 * which decodes to the same (codec_alert.c: "decode gives back what encode wrote"); everything is
 * freed.
 */
#include "fuzz.h"

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"

static void
same_alert(const lh_correlated_t *a, const lh_correlated_t *b, const char *how)
{
    FUZZ_CHECK(fuzz_streq(a->id, b->id), "%s: id '%s' came back as '%s'", how, a->id ? a->id : "",
               b->id ? b->id : "");
    FUZZ_CHECK(a->seq == b->seq, "%s: seq %llu came back as %llu", how, (unsigned long long)a->seq,
               (unsigned long long)b->seq);
    FUZZ_CHECK(a->kind == b->kind, "%s: kind %d came back as %d", how, a->kind, b->kind);
    FUZZ_CHECK(a->n_suspects == b->n_suspects, "%s: %zu suspects came back as %zu", how,
               a->n_suspects, b->n_suspects);
    FUZZ_CHECK(!a->outcome == !b->outcome, "%s: outcome lost or invented", how);
    FUZZ_CHECK(a->revision == b->revision, "%s: revision %lu came back as %lu", how,
               (unsigned long)a->revision, (unsigned long)b->revision);
    FUZZ_CHECK(a->resolved == b->resolved, "%s: resolved %d came back as %d", how, a->resolved,
               b->resolved);
    FUZZ_CHECK(a->n_changes == b->n_changes, "%s: %zu changes came back as %zu", how, a->n_changes,
               b->n_changes);
    FUZZ_CHECK(a->n_outcomes == b->n_outcomes, "%s: %zu outcomes came back as %zu", how,
               a->n_outcomes, b->n_outcomes);
    FUZZ_CHECK(a->n_rollbacks == b->n_rollbacks, "%s: %zu rollbacks came back as %zu", how,
               a->n_rollbacks, b->n_rollbacks);
}

/* Encodes ca in every format; returns nothing, checks the protobuf round trip. */
static void
reencode(const lh_correlated_t *ca)
{
    lh_buf_t b = LH_BUF_INIT;
    lh_correlated_t *back = NULL;

    (void)lh_codec_alert_encode(ca, LH_ALERTS_JSON, &b);
    lh_buf_reset(&b);
    (void)lh_codec_alert_encode(ca, LH_ALERTS_CLOUDEVENTS, &b);
    lh_buf_reset(&b);
    int rc = lh_codec_alert_encode(ca, LH_ALERTS_PROTOBUF, &b);
    FUZZ_CHECK(rc == 0, "pb encode: %s", lh_strerror(rc));
    rc = lh_codec_alert_pb_decode(b.data, b.len, &back);
    FUZZ_CHECK(rc == 0, "pb re-decode: %s", lh_strerror(rc));
    same_alert(ca, back, "protobuf");
    lh_correlated_destroy(&back);
    lh_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lh_correlated_t *ca = NULL, *back = NULL;
    lh_buf_t b = LH_BUF_INIT;

    if (lh_codec_alert_pb_decode(data, size, &ca) == 0) {
        FUZZ_CHECK(ca != NULL, "pb decode succeeded without an alert");
        reencode(ca);
        lh_correlated_destroy(&ca);
    }
    FUZZ_CHECK(ca == NULL, "pb decode failed but left an alert");

    if (lh_codec_alert_json_decode((const char *)data, size, &ca) == 0) {
        FUZZ_CHECK(ca != NULL, "json decode succeeded without an alert");
        reencode(ca);
        int rc = lh_codec_alert_json_encode(ca, &b);
        FUZZ_CHECK(rc == 0, "json encode of an alert read from JSON: %s", lh_strerror(rc));
        rc = lh_codec_alert_json_decode((const char *)b.data, b.len, &back);
        FUZZ_CHECK(rc == 0, "json re-decode of '%s': %s", (const char *)b.data, lh_strerror(rc));
        same_alert(ca, back, "json");
        lh_correlated_destroy(&back);
        lh_correlated_destroy(&ca);
    }
    FUZZ_CHECK(ca == NULL, "json decode failed but left an alert");
    lh_buf_free(&b);
    return 0;
}
