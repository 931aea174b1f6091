/*
 * codec.c - the decoding entry point: format detection, one JSON parse, batch handling, and the
 * guarantee that every payload is answered through the sink.
 *
 * lh_codec_decode() checks the size limit, detects the format (first non-blank byte '{' or '['
 * is JSON, anything else protobuf; a hint forces one), parses JSON once with jansson and hands
 * the parsed objects to the format decoders (loophub JSON here and in codec_json.c, CloudEvents
 * and Alertmanager in their own files). A top-level array is a batch: each element is decoded on
 * its own and a bad element costs only itself.
 *
 * Invariants: every sink call of a decoder passes through deliver(), which attaches the raw
 * bytes to accepted events (the payload, or an array element re-serialized compactly), prefixes
 * a batch element's rejection with "item N: ", and counts the calls; a payload that yields no
 * call at all gets one rejection, so nothing vanishes silently. protobuf events carry no raw.
 *
 * A protobuf Event starting with its id field begins with 0x0A ('\n'), and an id of 91 or 123
 * bytes makes the next byte '[' or '{': when such a payload fails to parse as JSON, it is tried
 * as protobuf before the JSON error is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"

const char *
lh_format_name(lh_format_t f)
{
    switch (f) {
    case LH_FMT_AUTO:
        return "auto";
    case LH_FMT_PROTOBUF:
        return "protobuf";
    case LH_FMT_JSON:
        return "json";
    case LH_FMT_CLOUDEVENTS:
        return "cloudevents";
    case LH_FMT_ALERTMANAGER:
        return "alertmanager";
    case LH_FMT_GITHUB:
    case LH_FMT_GITLAB:
    case LH_FMT_GRAFANA:
    case LH_FMT_PAGERDUTY:
    case LH_FMT_JIRA:
    case LH_FMT_FLUX:
    case LH_FMT_TEKTON:
        return lh_source_info((int)f - LH_FMT_GITHUB)->name;
    }
    return "unknown";
}

void
lh_codec_opts_default(lh_codec_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->limits = NULL;
    o->am_service_label = "service";
    o->am_env_labels[0] = "env";
    o->am_env_labels[1] = "environment";
    o->am_severity_label = "severity";
}

/* --- delivery -------------------------------------------------------------------------------- */

typedef struct {
    lh_decode_sink_fn sink;
    void *arg;
    int calls;
    int stop;
    int nomem;
    const void *raw; /* the whole payload, for a single top-level object */
    size_t raw_len;
    json_t *elem;   /* the current batch element, serialized on first use */
    char *elem_raw; /* its compact form (malloc'd by jansson), once made */
    int raw_format;
    long item;              /* index in the batch, -1 outside one */
    const lh_kv_t *headers; /* the message's, for the webhook sources */
    size_t n_headers;
    int source; /* the webhook source that read it, LH_SRC_NONE */
} ctx_t;

/* The sink the format decoders call; forwards to the user's sink. */
static int
deliver(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    ctx_t *c = arg;
    char msg[512], idcopy[128];

    if (c->stop) { /* a decoder that did not stop when told */
        lh_event_destroy(&ev);
        return 1;
    }
    if (ev && !ev->raw && c->raw_format != LH_FMT_PROTOBUF) {
        const void *raw = c->raw;
        size_t raw_len = c->raw_len;
        if (c->elem) {
            if (!c->elem_raw)
                c->elem_raw = json_dumps(c->elem, JSON_COMPACT);
            raw = c->elem_raw;
            raw_len = raw ? strlen(c->elem_raw) : 0;
        }
        if (!raw || lh_event_set_raw(ev, raw, raw_len, c->raw_format) != 0) {
            snprintf(idcopy, sizeof idcopy, "%s", ev->id ? ev->id : "");
            id = ev->id ? idcopy : NULL;
            lh_event_destroy(&ev);
            err = LH_ENOMEM;
            why = "out of memory";
            c->nomem = 1;
        }
    }
    if (!ev && err == LH_IGNORED) {
        if (!why || !*why)
            why = "ignored";
    } else if (!ev) {
        if (err >= 0)
            err = LH_EDECODE;
        if (!why || !*why)
            why = lh_strerror(err);
        if (c->item >= 0) {
            snprintf(msg, sizeof msg, "item %ld: %s", c->item, why);
            why = msg;
        }
    } else {
        err = 0;
        why = NULL;
    }
    c->calls++;
    if (c->sink(ev, err, id, why, c->arg) != 0)
        c->stop = 1;
    return c->stop;
}

#define REJECT(c, code, id, ...)                                                                   \
    do {                                                                                           \
        char m_[320];                                                                              \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        deliver(NULL, (code), (id), m_, (c));                                                      \
    } while (0)

static const char *
id_of(json_t *obj)
{
    return json_string_value(json_object_get(obj, "id")); /* NULL unless a string */
}

/* One JSON object, in format f (LH_FMT_AUTO: look at it). */
static void
decode_object(ctx_t *c, json_t *obj, lh_format_t f, const lh_codec_opts_t *o)
{
    int before = c->calls, rc = 0;

    if (f == LH_FMT_AUTO) {
        /* a webhook is one object, signed whole: no element of a batch is a source's */
        int src = c->item < 0 ? lh__source_of_shape(obj) : LH_SRC_NONE;
        f = src != LH_SRC_NONE         ? (lh_format_t)(LH_FMT_GITHUB + src)
            : lh__is_alertmanager(obj) ? LH_FMT_ALERTMANAGER
            : lh__is_cloudevent(obj)   ? LH_FMT_CLOUDEVENTS
                                       : LH_FMT_JSON;
    }
    c->raw_format = (int)f;
    switch (f) {
    case LH_FMT_GITHUB:
    case LH_FMT_GITLAB:
    case LH_FMT_GRAFANA:
    case LH_FMT_PAGERDUTY:
    case LH_FMT_JIRA:
    case LH_FMT_FLUX:
    case LH_FMT_TEKTON:
        c->source = (int)f - LH_FMT_GITHUB;
        rc = lh__source_decode(c->source, obj, c->item < 0 ? c->raw : NULL, c->raw_len, c->headers,
                               c->n_headers, o, deliver, c);
        break;
    case LH_FMT_ALERTMANAGER:
        rc = lh__alertmanager_decode(obj, o, deliver, c);
        break;
    case LH_FMT_CLOUDEVENTS:
        rc = lh__cloudevents_decode(obj, o, deliver, c);
        break;
    default: {
        lh_event_t *ev;
        char why[320];
        rc = lh__json_to_event(obj, &ev, why, sizeof why);
        if (rc == 0)
            deliver(ev, 0, ev->id, NULL, c);
        else
            deliver(NULL, rc, id_of(obj), why, c);
        break;
    }
    }
    if (rc == LH_ENOMEM)
        c->nomem = 1;
    if (c->calls == before && !c->stop) {
        if (rc == LH_ENOMEM)
            deliver(NULL, LH_ENOMEM, id_of(obj), "out of memory", c);
        else
            REJECT(c, LH_EDECODE, id_of(obj), "%s payload holds no event", lh_format_name(f));
    }
}

static void
decode_root(ctx_t *c, json_t *root, lh_format_t f, const lh_codec_opts_t *o)
{
    if (json_is_object(root)) {
        decode_object(c, root, f, o);
        return;
    }
    if (c->source != LH_SRC_NONE) { /* a sender's webhook is one object, signed whole */
        REJECT(c, LH_EDECODE, NULL, "a %s payload must be a JSON object, not %s",
               lh_source_info(c->source)->title, lh__json_type_name(root));
        return;
    }
    if (!json_is_array(root)) {
        REJECT(c, LH_EDECODE, NULL, "a JSON payload must be an object or an array of objects");
        return;
    }
    if (json_array_size(root) == 0) {
        REJECT(c, LH_EDECODE, NULL, "empty JSON array: no events");
        return;
    }
    size_t i;
    json_t *el;
    json_array_foreach(root, i, el)
    {
        if (c->stop)
            break;
        c->item = (long)i;
        c->elem = el;
        if (json_is_object(el))
            decode_object(c, el, f, o);
        else
            REJECT(c, LH_EDECODE, NULL, "not a JSON object but %s", lh__json_type_name(el));
        free(c->elem_raw);
        c->elem_raw = NULL;
        c->elem = NULL;
    }
    c->item = -1;
}

static void
decode_pb(ctx_t *c, const void *buf, size_t len)
{
    lh_event_t *ev;
    char why[256];
    int rc = lh_codec_pb_decode(buf, len, &ev, why, sizeof why);
    c->raw_format = LH_FMT_PROTOBUF;
    if (rc == 0)
        deliver(ev, 0, ev->id, NULL, c);
    else
        deliver(NULL, rc, NULL, why, c);
    if (rc == LH_ENOMEM)
        c->nomem = 1;
}

/* Parses JSON; on a syntax error fills why with its position. */
static json_t *
parse_json(const char *buf, size_t len, char *why, size_t whylen)
{
    json_error_t e;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
    if (!root)
        snprintf(why, whylen, "invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
    return root;
}

static int
is_blank(unsigned char b)
{
    return b == ' ' || b == '\t' || b == '\r' || b == '\n';
}

static int decode_all(ctx_t *c, const void *buf, size_t len, lh_format_t hint,
                      const lh_codec_opts_t *o);

int
lh_codec_decode(const void *buf, size_t len, lh_format_t hint, const lh_codec_opts_t *o,
                lh_decode_sink_fn sink, void *arg)
{
    return lh__codec_decode_hdr(buf, len, hint, NULL, 0, o, sink, arg, NULL);
}

int
lh__codec_decode_hdr(const void *buf, size_t len, lh_format_t hint, const lh_kv_t *headers,
                     size_t n_headers, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg,
                     int *source)
{
    ctx_t c = {.sink = sink,
               .arg = arg,
               .raw = buf,
               .raw_len = len,
               .item = -1,
               .headers = headers,
               .n_headers = n_headers,
               .source = hint >= LH_FMT_GITHUB && hint <= LH_FMT_TEKTON ? (int)hint - LH_FMT_GITHUB
                                                                        : LH_SRC_NONE};
    int calls = decode_all(&c, buf, len, hint, o);
    if (source)
        *source = c.source;
    return calls;
}

static int
decode_all(ctx_t *c, const void *buf, size_t len, lh_format_t hint, const lh_codec_opts_t *o)
{
    lh_codec_opts_t defaults;
    lh_limits_t lim;
    const unsigned char *p = buf;

    if (!o) {
        lh_codec_opts_default(&defaults);
        o = &defaults;
    }
    if (o->limits)
        lim = *o->limits;
    else
        lh_limits_default(&lim);

    if (len > lim.max_payload) {
        REJECT(c, LH_ETOOBIG, NULL, "payload of %zu bytes is over the limit of %zu bytes", len,
               lim.max_payload);
        return c->calls;
    }
    if (!buf || len == 0) {
        REJECT(c, LH_EDECODE, NULL, "empty payload");
        return c->calls;
    }
    size_t bom = (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) ? 3 : 0;
    size_t first = bom;
    while (first < len && is_blank(p[first]))
        first++;

    lh_format_t f = hint;
    int json = hint != LH_FMT_PROTOBUF;
    if (hint == LH_FMT_AUTO) {
        if (first == len) {
            REJECT(c, LH_EDECODE, NULL, "empty payload (only blanks)");
            return c->calls;
        }
        json = p[first] == '{' || p[first] == '[';
    }
    if (!json) {
        decode_pb(c, buf, len);
        return c->nomem ? LH_ENOMEM : c->calls;
    }

    char why[320];
    json_t *root = parse_json((const char *)p + bom, len - bom, why, sizeof why);
    if (!root) {
        lh_event_t *ev = NULL;
        char pbwhy[64];
        if (hint == LH_FMT_AUTO && p[0] == 0x0A &&
            lh_codec_pb_decode(buf, len, &ev, pbwhy, sizeof pbwhy) == 0) {
            c->raw_format = LH_FMT_PROTOBUF;
            deliver(ev, 0, ev->id, NULL, c);
        } else {
            deliver(NULL, LH_EDECODE, NULL, why, c);
        }
        return c->calls;
    }
    decode_root(c, root, f, o);
    json_decref(root);
    return c->nomem ? LH_ENOMEM : c->calls;
}

/* --- one event ------------------------------------------------------------------------------- */

typedef struct {
    lh_event_t *ev;
    int n;
    int err;
    char *why;
    size_t whylen;
} one_t;

static int
one_sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    one_t *o = arg;
    (void)id;
    if (++o->n > 1) {
        lh_event_destroy(&ev);
        return 1;
    }
    o->ev = ev;
    o->err = err;
    if (!ev && o->why && o->whylen)
        snprintf(o->why, o->whylen, "%s", why ? why : lh_strerror(err));
    return 0;
}

int
lh_codec_decode_one(const void *buf, size_t len, lh_format_t hint, const lh_codec_opts_t *o,
                    lh_event_t **out, char *why, size_t whylen)
{
    one_t one = {.why = why, .whylen = whylen};
    int rc = lh_codec_decode(buf, len, hint, o, one_sink, &one);

    *out = NULL;
    if (one.n > 1) {
        lh_event_destroy(&one.ev);
        if (why && whylen)
            snprintf(why, whylen, "payload holds more than one event, one was expected");
        return LH_EINVAL;
    }
    if (!one.ev) {
        int err = one.err < 0 ? one.err : (rc < 0 ? rc : LH_EDECODE);
        if (one.n == 0 && why && whylen)
            snprintf(why, whylen, "%s", lh_strerror(err));
        return err;
    }
    *out = one.ev;
    return 0;
}

int
lh_codec_json_decode(const char *buf, size_t len, lh_event_t **out, char *why, size_t whylen)
{
    char w[320];
    int rc;

    *out = NULL;
    json_t *root = parse_json(buf, len, w, sizeof w);
    if (!root) {
        if (why && whylen)
            snprintf(why, whylen, "%s", w);
        return LH_EDECODE;
    }
    rc = lh__json_to_event(root, out, why, whylen);
    json_decref(root);
    if (rc == 0 && lh_event_set_raw(*out, buf, len, LH_FMT_JSON) != 0) {
        lh_event_destroy(out);
        if (why && whylen)
            snprintf(why, whylen, "out of memory");
        rc = LH_ENOMEM;
    }
    return rc;
}
