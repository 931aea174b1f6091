/*
 * event.c - lh_event_t: construction, the arena that owns its strings, normalization and the
 * model's validation rules.
 *
 * Memory: lh_event_new() makes one allocation holding the event, the arena header and a first
 * chunk, which is enough for a typical event; larger events chain further chunks. Repeated
 * fields grow by doubling inside the arena (the old copy is simply abandoned), so an event is
 * freed with one free() per chunk and nothing else.
 */
#include "loophub/event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loophub/error.h"

#define LH_ARENA_FIRST 1024
#define LH_ARENA_CHUNK 4096

typedef struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    unsigned char data[];
} chunk_t;

struct lh__arena {
    chunk_t *head;  /* current chunk (allocation happens here) */
    chunk_t *extra; /* chunks allocated separately (freed on destroy) */
    size_t hosts_cap, labels_cap, links_cap;
};

typedef struct {
    lh_event_t ev;
    struct lh__arena arena;
    chunk_t first;
} event_block_t;

void
lh_limits_default(lh_limits_t *lim)
{
    lim->max_payload = 1024 * 1024;
    lim->max_field = 4096;
    lim->max_hosts = 256;
    lim->max_labels = 64;
    lim->max_links = 256;
    lim->max_future_ns = 3600LL * 1000000000LL;
}

lh_event_t *
lh_event_new(void)
{
    event_block_t *b = calloc(1, sizeof(event_block_t) + LH_ARENA_FIRST);
    if (!b)
        return NULL;
    b->first.size = LH_ARENA_FIRST;
    b->arena.head = &b->first;
    b->ev.arena = &b->arena;
    return &b->ev;
}

void
lh_event_destroy(lh_event_t **evp)
{
    if (!evp || !*evp)
        return;
    lh__arena_t *a = (*evp)->arena;
    chunk_t *c = a->extra;
    while (c) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(*evp); /* the block starts with the event */
    *evp = NULL;
}

void *
lh_event_alloc(lh_event_t *ev, size_t size)
{
    lh__arena_t *a = ev->arena;
    size = (size + 15) & ~(size_t)15;
    chunk_t *c = a->head;
    if (c->size - c->used < size) {
        size_t csize = size > LH_ARENA_CHUNK / 2 ? size : LH_ARENA_CHUNK;
        chunk_t *n = calloc(1, sizeof(chunk_t) + csize);
        if (!n)
            return NULL;
        n->size = csize;
        n->next = a->extra;
        a->extra = n;
        if (csize == LH_ARENA_CHUNK)
            a->head = n; /* a big one-off keeps the current chunk current */
        else {
            n->used = size;
            return n->data;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *
lh_event_str(lh_event_t *ev, const char *s, size_t len)
{
    if (!s)
        return NULL;
    if (len == (size_t)-1)
        len = strlen(s);
    if (len == 0)
        return NULL;
    char *p = lh_event_alloc(ev, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = 0;
    return p;
}

int
lh_event_set_raw(lh_event_t *ev, const void *raw, size_t len, int format)
{
    if (!raw || !len) {
        ev->raw = NULL;
        ev->raw_len = 0;
        ev->raw_format = 0;
        return 0;
    }
    void *p = lh_event_alloc(ev, len);
    if (!p)
        return LH_ENOMEM;
    memcpy(p, raw, len);
    ev->raw = p;
    ev->raw_len = len;
    ev->raw_format = format;
    return 0;
}

/* Grows an arena array of elem-sized items to hold n+1. */
static int
grow(lh_event_t *ev, void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = lh_event_alloc(ev, ncap * elem);
    if (!p)
        return LH_ENOMEM;
    if (n)
        memcpy(p, *arr, n * elem);
    *arr = p;
    *cap = ncap;
    return 0;
}

static int
add_str(lh_event_t *ev, char ***arr, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (!s)
        return 0;
    if (len == (size_t)-1)
        len = strlen(s);
    if (len == 0)
        return 0;
    if (grow(ev, (void **)arr, *n, cap, sizeof(char *)) < 0)
        return LH_ENOMEM;
    char *c = lh_event_str(ev, s, len);
    if (!c)
        return LH_ENOMEM;
    (*arr)[(*n)++] = c;
    return 0;
}

int
lh_event_add_host(lh_event_t *ev, const char *host, size_t len)
{
    return add_str(ev, &ev->hosts, &ev->n_hosts, &ev->arena->hosts_cap, host, len);
}

int
lh_event_add_link(lh_event_t *ev, const char *link, size_t len)
{
    return add_str(ev, &ev->ticket.links, &ev->ticket.n_links, &ev->arena->links_cap, link, len);
}

int
lh_event_add_label(lh_event_t *ev, const char *key, size_t klen, const char *value, size_t vlen)
{
    if (!key)
        return 0;
    if (klen == (size_t)-1)
        klen = strlen(key);
    if (klen == 0)
        return 0;
    if (grow(ev, (void **)&ev->labels, ev->n_labels, &ev->arena->labels_cap, sizeof(lh_label_t)) <
        0)
        return LH_ENOMEM;
    lh_label_t *l = &ev->labels[ev->n_labels];
    l->key = lh_event_str(ev, key, klen);
    if (!l->key)
        return LH_ENOMEM;
    if (value && vlen == (size_t)-1)
        vlen = strlen(value);
    /* an empty value is kept as "" (labels may be present but empty) */
    l->value = lh_event_alloc(ev, (value ? vlen : 0) + 1);
    if (!l->value)
        return LH_ENOMEM;
    if (value && vlen)
        memcpy(l->value, value, vlen);
    ev->n_labels++;
    return 0;
}

const char *
lh_event_label(const lh_event_t *ev, const char *key)
{
    for (size_t i = 0; i < ev->n_labels; i++)
        if (strcmp(ev->labels[i].key, key) == 0)
            return ev->labels[i].value;
    return NULL;
}

#define DUP(field)                                                                                 \
    do {                                                                                           \
        if (src->field && !(dst->field = lh_event_str(dst, src->field, (size_t)-1)))               \
            goto oom;                                                                              \
    } while (0)

lh_event_t *
lh_event_clone(const lh_event_t *src)
{
    lh_event_t *dst = lh_event_new();
    if (!dst)
        return NULL;
    dst->time_ns = src->time_ns;
    dst->kind = src->kind;
    dst->deploy = src->deploy;
    dst->alert = src->alert;
    dst->incident = src->incident;
    dst->ticket = src->ticket;
    dst->ticket.links = NULL;
    dst->ticket.n_links = 0;
    DUP(id);
    DUP(source);
    DUP(service);
    DUP(environment);
    DUP(actor);
    DUP(deploy.deploy_id);
    DUP(deploy.version);
    DUP(deploy.previous_version);
    DUP(deploy.commit);
    DUP(deploy.artifact);
    DUP(deploy.change_ticket);
    DUP(alert.name);
    DUP(alert.fingerprint);
    DUP(alert.summary);
    DUP(alert.artifact);
    DUP(incident.incident_id);
    DUP(incident.title);
    DUP(incident.ticket);
    DUP(incident.artifact);
    DUP(ticket.ticket_id);
    DUP(ticket.url);
    DUP(ticket.summary);
    for (size_t i = 0; i < src->n_hosts; i++)
        if (lh_event_add_host(dst, src->hosts[i], (size_t)-1) < 0)
            goto oom;
    for (size_t i = 0; i < src->n_labels; i++)
        if (lh_event_add_label(dst, src->labels[i].key, (size_t)-1, src->labels[i].value,
                               (size_t)-1) < 0)
            goto oom;
    for (size_t i = 0; i < src->ticket.n_links; i++)
        if (lh_event_add_link(dst, src->ticket.links[i], (size_t)-1) < 0)
            goto oom;
    if (src->raw && lh_event_set_raw(dst, src->raw, src->raw_len, src->raw_format) < 0)
        goto oom;
    return dst;
oom:
    lh_event_destroy(&dst);
    return NULL;
}
#undef DUP

int
lh_event_normalize(lh_event_t *ev)
{
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        if (!ev->deploy.deploy_id && ev->id) {
            ev->deploy.deploy_id = lh_event_str(ev, ev->id, (size_t)-1);
            if (!ev->deploy.deploy_id)
                return LH_ENOMEM;
        }
        if (ev->deploy.status == LH_DEPLOY_UNSPECIFIED)
            ev->deploy.status = LH_DEPLOY_SUCCEEDED;
        break;
    case LH_KIND_ALERT:
        if (ev->alert.state == LH_ALERT_UNSPECIFIED)
            ev->alert.state = LH_ALERT_FIRING;
        break;
    case LH_KIND_INCIDENT:
        if (ev->incident.state == LH_INCIDENT_UNSPECIFIED)
            ev->incident.state = LH_INCIDENT_DETECTED;
        if (!ev->incident.incident_id && ev->id) {
            ev->incident.incident_id = lh_event_str(ev, ev->id, (size_t)-1);
            if (!ev->incident.incident_id)
                return LH_ENOMEM;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* Returns 1 when s[0..len) is well-formed UTF-8 with no NUL and no overlongs/surrogates. */
static int
utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned min;
        unsigned cp;
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

__attribute__((format(printf, 4, 5))) static int
fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return err;
}

static int
check_str(const char *name, const char *s, const lh_limits_t *lim, char *why, size_t whylen)
{
    if (!s)
        return 0;
    size_t len = strlen(s);
    if (len > lim->max_field)
        return fail(why, whylen, LH_ETOOBIG, "field '%s' is %zu bytes, over the limit of %zu", name,
                    len, lim->max_field);
    if (!utf8_valid((const unsigned char *)s, len))
        return fail(why, whylen, LH_EDECODE, "field '%s' is not valid UTF-8", name);
    return 0;
}

int
lh_event_validate(const lh_event_t *ev, const lh_limits_t *limp, int64_t now_ns, char *why,
                  size_t whylen)
{
    lh_limits_t dflt;
    if (!limp) {
        lh_limits_default(&dflt);
        limp = &dflt;
    }
    const lh_limits_t *lim = limp;
    int rc;
    if (!ev->id)
        return fail(why, whylen, LH_EMISSING, "missing field 'id'");
    for (const char *p = ev->id; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fail(why, whylen, LH_EDECODE, "field 'id' contains a control character");
    if (ev->kind < LH_KIND_DEPLOY || ev->kind > LH_KIND_TICKET)
        return fail(why, whylen, LH_EUNKNOWN_KIND,
                    "unknown event kind: the event has no deploy, alert, incident or ticket body");
    if (ev->time_ns == 0)
        return fail(why, whylen, LH_EMISSING, "missing field 'time'");
    if (ev->time_ns < 0)
        return fail(why, whylen, LH_ERANGE, "field 'time' is before 1970");
    /* differences, not sums: time_ns may be near INT64_MAX (a protobuf or a 2262 time) */
    if (now_ns > 0 && ev->time_ns - now_ns > lim->max_future_ns)
        return fail(why, whylen, LH_ERANGE,
                    "field 'time' is %lld s ahead of the hub's clock (limit %lld s)",
                    (long long)((ev->time_ns - now_ns) / 1000000000LL),
                    (long long)(lim->max_future_ns / 1000000000LL));
    if (ev->kind != LH_KIND_TICKET && !ev->service)
        return fail(why, whylen, LH_EMISSING, "missing field 'service' (%s %s needs one)",
                    ev->kind == LH_KIND_INCIDENT || ev->kind == LH_KIND_ALERT ? "an" : "a",
                    lh_kind_name(ev->kind));
    if (ev->n_hosts > lim->max_hosts)
        return fail(why, whylen, LH_ETOOBIG, "%zu hosts, over the limit of %zu", ev->n_hosts,
                    lim->max_hosts);
    if (ev->n_labels > lim->max_labels)
        return fail(why, whylen, LH_ETOOBIG, "%zu labels, over the limit of %zu", ev->n_labels,
                    lim->max_labels);
    if (ev->ticket.n_links > lim->max_links)
        return fail(why, whylen, LH_ETOOBIG, "%zu ticket links, over the limit of %zu",
                    ev->ticket.n_links, lim->max_links);
    const struct {
        const char *name;
        const char *val;
    } fields[] = {
        {"id", ev->id},
        {"source", ev->source},
        {"service", ev->service},
        {"environment", ev->environment},
        {"actor", ev->actor},
        {"deploy.deploy_id", ev->deploy.deploy_id},
        {"deploy.version", ev->deploy.version},
        {"deploy.previous_version", ev->deploy.previous_version},
        {"deploy.commit", ev->deploy.commit},
        {"deploy.artifact", ev->deploy.artifact},
        {"deploy.change_ticket", ev->deploy.change_ticket},
        {"alert.name", ev->alert.name},
        {"alert.fingerprint", ev->alert.fingerprint},
        {"alert.summary", ev->alert.summary},
        {"alert.artifact", ev->alert.artifact},
        {"incident.incident_id", ev->incident.incident_id},
        {"incident.title", ev->incident.title},
        {"incident.ticket", ev->incident.ticket},
        {"incident.artifact", ev->incident.artifact},
        {"ticket.ticket_id", ev->ticket.ticket_id},
        {"ticket.url", ev->ticket.url},
        {"ticket.summary", ev->ticket.summary},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if ((rc = check_str(fields[i].name, fields[i].val, lim, why, whylen)) < 0)
            return rc;
    for (size_t i = 0; i < ev->n_hosts; i++)
        if ((rc = check_str("hosts", ev->hosts[i], lim, why, whylen)) < 0)
            return rc;
    for (size_t i = 0; i < ev->n_labels; i++) {
        if ((rc = check_str("labels (key)", ev->labels[i].key, lim, why, whylen)) < 0)
            return rc;
        if ((rc = check_str("labels (value)", ev->labels[i].value, lim, why, whylen)) < 0)
            return rc;
    }
    for (size_t i = 0; i < ev->ticket.n_links; i++)
        if ((rc = check_str("ticket.links", ev->ticket.links[i], lim, why, whylen)) < 0)
            return rc;
    if (ev->kind == LH_KIND_DEPLOY && ev->deploy.commit_time_ns) {
        if (ev->deploy.commit_time_ns < 0)
            return fail(why, whylen, LH_ERANGE, "field 'deploy.commit_time' is before 1970");
        if (ev->deploy.commit_time_ns - ev->time_ns > lim->max_future_ns)
            return fail(why, whylen, LH_ERANGE,
                        "field 'deploy.commit_time' is after the deploy's time");
    }
    if (ev->kind == LH_KIND_INCIDENT && !ev->incident.incident_id)
        return fail(why, whylen, LH_EMISSING, "missing field 'incident.incident_id'");
    if (ev->kind == LH_KIND_TICKET && !ev->ticket.ticket_id)
        return fail(why, whylen, LH_EMISSING, "missing field 'ticket.ticket_id'");
    if (ev->kind == LH_KIND_ALERT && !ev->alert.name && !ev->alert.fingerprint)
        return fail(why, whylen, LH_EMISSING, "missing field 'alert.name'");
    return 0;
}

lh_severity_t
lh_event_severity(const lh_event_t *ev)
{
    if (ev->kind == LH_KIND_ALERT)
        return ev->alert.severity;
    if (ev->kind == LH_KIND_INCIDENT)
        return ev->incident.severity;
    return LH_SEV_UNSPECIFIED;
}

/* --- enum names -------------------------------------------------------------------------- */

static int
parse_name(const char *const *names, int n, const char *s, int *out)
{
    if (!s)
        return LH_EINVAL;
    for (int i = 1; i < n; i++) {
        if (names[i] && strcasecmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return LH_EINVAL;
}

#define LH__ENUM(fn_name, fn_parse, type, ...)                                                     \
    static const char *const fn_name##_names[] = {NULL, __VA_ARGS__};                              \
    const char *fn_name(type v)                                                                    \
    {                                                                                              \
        int n = (int)(sizeof(fn_name##_names) / sizeof(fn_name##_names[0]));                       \
        return ((int)v > 0 && (int)v < n) ? fn_name##_names[v] : NULL;                             \
    }                                                                                              \
    int fn_parse(const char *s, type *out)                                                         \
    {                                                                                              \
        int v,                                                                                     \
            rc = parse_name(fn_name##_names,                                                       \
                            (int)(sizeof(fn_name##_names) / sizeof(fn_name##_names[0])), s, &v);   \
        if (rc == 0)                                                                               \
            *out = (type)v;                                                                        \
        return rc;                                                                                 \
    }

LH__ENUM(lh_kind_name, lh_kind_parse, lh_kind_t, "deploy", "alert", "incident", "ticket")
LH__ENUM(lh_severity_name, lh_severity_parse, lh_severity_t, "info", "warning", "error", "critical")
LH__ENUM(lh_deploy_status_name, lh_deploy_status_parse, lh_deploy_status_t, "started", "succeeded",
         "failed", "rolled_back")
LH__ENUM(lh_alert_state_name, lh_alert_state_parse, lh_alert_state_t, "firing", "resolved")
LH__ENUM(lh_incident_state_name, lh_incident_state_parse, lh_incident_state_t, "detected",
         "reported", "resolved")
LH__ENUM(lh_ticket_type_name, lh_ticket_type_parse, lh_ticket_type_t, "change", "incident", "task")
LH__ENUM(lh_ticket_state_name, lh_ticket_state_parse, lh_ticket_state_t, "created", "approved",
         "rejected", "updated", "closed")
