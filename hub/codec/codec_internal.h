/*
 * codec_internal.h - what the codec files share. codec.c detects the format and parses JSON once
 * (jansson); the format decoders below take the parsed root. protobuf-c and jansson types never
 * leave the codec files.
 */
#ifndef LOOPHUB_CODEC_INTERNAL_H
#define LOOPHUB_CODEC_INTERNAL_H

#include <jansson.h>
#include <stdio.h>

#include "event_json.h"
#include "loophub/format.h"

/* --- small JSON helpers every codec file uses (codec_util.c) --------------------------------- */

/* "an object", "an array", "a string", "a number", "a boolean" or "null": v's type as a reason
 * names it. */
const char *lh__json_type_name(const json_t *v);

/* obj[key] = v, array += v (the reference to v passes; v NULL is an error). Return 0 or
 * LH_ENOMEM. */
int lh__json_set(json_t *obj, const char *key, json_t *v);
int lh__json_push(json_t *arr, json_t *v);
/* Sets obj[key] to a new string when s is present (not NULL, not ""). Returns 0 or LH_ENOMEM.
 * The string is not re-validated: the dump refuses invalid UTF-8. */
int lh__json_put_str(json_t *obj, const char *key, const char *s);
/* Sets obj[key] to ns as an RFC 3339 string, unless ns is 0. Returns 0, LH_EINVAL (a time
 * that cannot be written) or LH_ENOMEM. */
int lh__json_put_time(json_t *obj, const char *key, int64_t ns);
/* Sets obj[key] to an array of the n strings of v (NULL ones as ""), unless n is 0. Returns 0 or
 * LH_ENOMEM; on error nothing is set. */
int lh__json_put_strings(json_t *obj, const char *key, char *const *v, size_t n);

/* Appends o's JSON text (json_dump_callback flags) to out. Returns 0, or LH_EINVAL with out as
 * it was (a string that is not UTF-8, or out of memory). */
int lh__json_dump(const json_t *o, size_t flags, lh_buf_t *out);

/* Copies s into ev's arena as *field, unless s is absent or "" (then *field is left alone).
 * Returns 0 or LH_ENOMEM. */
int lh__event_set_str(lh_event_t *ev, char **field, const char *s);

/* Why a decode failed: the code and a one-line reason (CloudEvents and Alertmanager decoders). */
#define LH__WHY_LEN 320
typedef struct {
    int err;
    char why[LH__WHY_LEN];
} lh__fail_t;
/* Records err and the formatted reason in f. Returns err. */
int lh__failf(lh__fail_t *f, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* In a decoder with `char *why, size_t whylen` in scope: writes the reason (when the caller gave
 * room for one) and returns code. */
#define LH__FAIL(code, ...)                                                                        \
    do {                                                                                           \
        if (why && whylen)                                                                         \
            snprintf(why, whylen, __VA_ARGS__);                                                    \
        return (code);                                                                             \
    } while (0)

/* loophub JSON: one object -> event. 0 and *out, or LH_EDECODE (why names the field). */
int lh__json_to_event(json_t *obj, lh_event_t **out, char *why, size_t whylen);

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

/* lh_codec_decode() with the message's headers (for the webhook sources: detection by shape
 * then still checks their signatures); *source (not NULL) gets the source that read it. */
int lh__codec_decode_hdr(const void *buf, size_t len, lh_format_t hint, const lh_kv_t *headers,
                         size_t n_headers, const lh_codec_opts_t *o, lh_decode_sink_fn sink,
                         void *arg, int *source);

/* --- webhook sources (codec_source.c: the table, detection, signatures; one file each) ------ */

/* What a source's decoder gets besides the body: the request's headers, the delivery id the
 * sender keeps across redeliveries (NULL when it sent none), the value of its event header
 * (X-GitHub-Event, ...; NULL), and the sources' settings (NULL: every default). */
typedef struct {
    const lh_kv_t *headers;
    size_t n_headers;
    const char *delivery;
    const char *event;
    const lh_sources_conf_t *conf;
} lh__src_msg_t;

/* A source's decoder: every event of the payload, rejection or LH_IGNORED (with a reason)
 * through sink. Returns the sink calls made or LH_ENOMEM. */
typedef int (*lh__source_decode_fn)(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink,
                                    void *arg);

/* Source id's payload obj, a JSON object (body/len the bytes it was parsed from, for the
 * signature: a source's payload is never an element of a batch): the source off, the signature
 * checked when a secret is set, then its decoder. Returns as a decoder. */
int lh__source_decode(int id, json_t *obj, const void *body, size_t len, const lh_kv_t *h,
                      size_t nh, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg);
/* The source whose shape obj has, LH_SRC_NONE. */
int lh__source_of_shape(json_t *obj);

/* Header name's entry (case-insensitive), NULL; its value as a string in buf (NULL when
 * missing, empty or longer than len - 1). */
const lh_kv_t *lh__header(const lh_kv_t *h, size_t n, const char *name);
const char *lh__header_str(const lh_kv_t *h, size_t n, const char *name, char *buf, size_t len);
/* The string at "a.b.c" in obj (nested objects), NULL when absent, not a string or "". */
const char *lh__jstr(json_t *obj, const char *path);
/* Shell-style glob ('*', '?'), case-insensitive; a comma-separated list of them. 1 on match. */
int lh__glob_match(const char *pattern, const char *s);
int lh__glob_list_match(const char *list, const char *s);
/* The value of key in a "k=v,k2=v2" map (keys case-insensitive) copied into out: 1, else 0. */
int lh__map_lookup(const char *map, const char *key, char *out, size_t len);
/* Reports LH_IGNORED with the formatted reason. Returns 1 (the sink calls made). */
int lh__source_ignore(lh_decode_sink_fn sink, void *arg, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reports the rejection err (LH_EMISSING, LH_EDECODE, ...) of the payload whose id is id (NULL:
 * not known yet) with the formatted reason. Returns 1 (the sink calls made). */
int lh__source_reject(lh_decode_sink_fn sink, void *arg, const char *id, int err, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
/* The environment of an event its source names none for ([sources] default_environment). */
const char *lh__source_env(const lh__src_msg_t *m);

#define LH__SOURCE(name)                                                                           \
    int lh__is_##name(json_t *obj);                                                                \
    int lh__##name##_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg);
LH__SOURCE(github)
LH__SOURCE(gitlab)
LH__SOURCE(grafana)
LH__SOURCE(pagerduty)
LH__SOURCE(jira)
LH__SOURCE(flux)
LH__SOURCE(tekton)
#undef LH__SOURCE

/* Severity words producers use (CDEvents customData, Alertmanager labels), case-insensitive:
 * critical/crit/page/high/p1, error/err/major, warning/warn/medium/minor, info/none/low.
 * Returns 0 and *out, or LH_EINVAL for another word (in codec_util.c). */
int lh__severity_word(const char *s, lh_severity_t *out);

/* Correlated alerts (codec_alert.c, every encoding of one in one file): as a CloudEvent (type
 * dev.loophub.alert.correlated.0.1.0), and as loophub's JSON object. The alert codec uses the
 * event JSON mapping of codec_json.c for the outcome it carries; input formats call neither. */
int lh__alert_cloudevent_encode(const lh_correlated_t *ca, lh_buf_t *out);
json_t *lh__alert_to_json(const lh_correlated_t *ca);

#endif
