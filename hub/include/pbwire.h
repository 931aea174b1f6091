/*
 * pbwire.h - the protobuf wire format, for a module that splices stored messages without
 * decoding them: the store puts back what a revision's payload left out (store_outbox.c) and
 * keeps an event's labels apart (store.c, store_dict.c).
 * Implemented by the codec (codec_pb.c), beside the walk that finds NULs in strings.
 */
#ifndef LOOPHUB_PBWIRE_H
#define LOOPHUB_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/buf.h"
#include "loophub/event.h"

/* Walks the top-level fields of message p once: returns the fields there (bit n: field n, for
 * field numbers below 31), or -1 when p does not parse. With copy, appends the fields of
 * `fields` to it as they are (and returns LH_ENOMEM when out of memory). */
int lh_pb_fields(const void *p, size_t len, uint32_t fields, lh_buf_t *copy);

/* Appends field `field` as the encoder writes it: nothing for a default value (NULL or "", 0). */
int lh_pb_put_string(lh_buf_t *b, unsigned field, const char *v);
int lh_pb_put_varint(lh_buf_t *b, unsigned field, uint64_t v);

/* Adds to ev the labels of p: the map entries of loophub.v1.Event.labels (field 8) as the encoder
 * writes them, nothing else (a label set of the store, store_dict.c). Returns 0, LH_EDECODE (p is
 * not such entries, or a string has a NUL) or LH_ENOMEM. */
int lh_pb_labels(const void *p, size_t len, lh_event_t *ev);

/* Appends ev, encoded, as field `field` of a message: its tag, its length, then the event. */
int lh_codec_pb_encode_field(const lh_event_t *ev, unsigned field, lh_buf_t *out);

#endif
