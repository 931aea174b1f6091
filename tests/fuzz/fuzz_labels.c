/*
 * fuzz_labels.c - libFuzzer target for lh_pb_labels(), the decoder of a label set as the store
 * keeps it (table `labelsets`, store_dict.c): the map entries of loophub.v1.Event.labels (field
 * 8) as the encoder writes them. A store's file is read as input, not trusted to be what the hub
 * wrote (a damaged disk, a hand edit with sqlite3).
 *
 * Properties checked: the decoder refuses (LH_EDECODE) or adds labels, nothing else; labels it
 * accepted, encoded again as an event holding only them, give back exactly those labels through
 * it; when the protobuf decoder also accepts the bytes as an event, both give the same labels;
 * everything is freed.
 */
#include "fuzz.h"

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "pbwire.h"

static void
same_labels(const lh_event_t *a, const lh_event_t *b, const char *what)
{
    FUZZ_CHECK(a->n_labels == b->n_labels, "%s: %zu labels against %zu", what, a->n_labels,
               b->n_labels);
    for (size_t i = 0; i < a->n_labels; i++) {
        FUZZ_CHECK(fuzz_streq(a->labels[i].key, b->labels[i].key), "%s: label %zu key", what, i);
        FUZZ_CHECK(fuzz_streq(a->labels[i].value, b->labels[i].value), "%s: label %zu value", what,
                   i);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return 0;
    int rc = lh_pb_labels(data, size, ev);
    FUZZ_CHECK(rc == 0 || rc == LH_EDECODE || rc == LH_ENOMEM, "lh_pb_labels: %s", lh_strerror(rc));
    if (rc == 0 && ev->n_labels) {
        lh_buf_t pb = LH_BUF_INIT, set = LH_BUF_INIT;
        rc = lh_codec_pb_encode(ev, &pb);
        FUZZ_CHECK(rc == 0, "encoding the labels: %s", lh_strerror(rc));
        int fields = lh_pb_fields(pb.data, pb.len, 1u << 8, &set);
        FUZZ_CHECK(fields == 1 << 8, "the encoded labels are fields %#x", (unsigned)fields);
        lh_event_t *again = lh_event_new();
        FUZZ_CHECK(again && lh_pb_labels(set.data, set.len, again) == 0, "re-encoded set refused");
        same_labels(ev, again, "re-encoded");
        lh_event_destroy(&again);
        lh_buf_free(&pb);
        lh_buf_free(&set);
    }
    if (rc == 0) {
        lh_event_t *whole = NULL;
        char why[256];
        if (lh_codec_pb_decode(data, size, &whole, why, sizeof why) == 0)
            same_labels(ev, whole, "the protobuf decoder");
        lh_event_destroy(&whole);
    }
    lh_event_destroy(&ev);
    return 0;
}
