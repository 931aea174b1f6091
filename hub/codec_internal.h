/*
 * codec_internal.h - what the codec files share. codec.c detects the format and parses JSON once
 * (jansson); the format decoders below take the parsed root. protobuf-c and jansson types never
 * leave the codec files.
 */
#ifndef LOOPHUB_CODEC_INTERNAL_H
#define LOOPHUB_CODEC_INTERNAL_H

#include <jansson.h>

#include "codec.h"

/* loophub JSON: one object -> event. 0 and *out, or LH_EDECODE (why names the field). */
int lh__json_to_event(json_t *obj, lh_event_t **out, char *why, size_t whylen);
/* event -> new JSON object (NULL on out of memory). */
json_t *lh__event_to_json(const lh_event_t *ev);

/* CloudEvents 1.0 structured (object with "specversion") or a bare CDEvent ("context" +
 * "subject"): one event, reported through sink. Returns sink calls made or LH_ENOMEM. */
int lh__cloudevents_decode(json_t *obj, const lh_codec_opts_t *o, lh_decode_sink_fn sink,
                           void *arg);
/* 1 when obj looks like a CloudEvent or a bare CDEvent. */
int lh__is_cloudevent(json_t *obj);

/* Alertmanager webhook (version 4): every alert of the notification, through sink. */
int lh__alertmanager_decode(json_t *obj, const lh_codec_opts_t *o, lh_decode_sink_fn sink,
                            void *arg);
/* 1 when obj looks like an Alertmanager notification ("alerts" array + "version"). */
int lh__is_alertmanager(json_t *obj);

/* Severity words producers use (CDEvents customData, Alertmanager labels), case-insensitive:
 * critical/crit/page/high/p1, error/err/major, warning/warn/medium/minor, info/none/low.
 * Returns 0 and *out, or LH_EINVAL for another word (in codec_cloudevents.c). */
int lh__severity_word(const char *s, lh_severity_t *out);

/* A correlated alert as a CloudEvent (type dev.loophub.alert.correlated.0.1.0). */
int lh__alert_cloudevent_encode(const lh_correlated_t *ca, lh_buf_t *out);
json_t *lh__alert_to_json(const lh_correlated_t *ca);

#endif
