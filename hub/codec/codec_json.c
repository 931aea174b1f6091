/*
 * codec_json.c - loophub's own JSON form (README.md, Formats; proto/loophub.proto) <-> lh_event_t.
 *
 * The object has the envelope keys (id, kind, time, service, environment, hosts, actor, source,
 * labels) and exactly one body object (deploy | alert | incident | ticket) whose name is the
 * kind; "kind" may be left out when the body says it. Fields are described by tables (name,
 * type, offset) that drive both directions, so the two cannot drift apart.
 *
 * Invariants: decoding never trusts a JSON type (each field is checked and a wrong type is an
 * LH_EDECODE naming the field); null counts as absent, as do "" strings; unknown keys are
 * ignored; every string is copied once, straight from jansson into the event's arena. Encoding
 * omits absent fields, so decode(encode(ev)) gives ev back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

/* Enum fields are read and written through int (gcc gives these enums the size of an int). */
_Static_assert(sizeof(lh_deploy_status_t) == sizeof(int), "enum size");
_Static_assert(sizeof(lh_severity_t) == sizeof(int), "enum size");

typedef struct {
    int (*parse)(const char *s, int *out);
    const char *(*name)(int v);
    const char *expected; /* for the error message */
} enum_desc_t;

/* F_BOOL: an int, written only when set (true), read from a JSON boolean. */
typedef enum { F_STR, F_TIME, F_ENUM, F_BOOL } ftype_t;

typedef struct {
    const char *name;
    ftype_t type;
    size_t off;
    const enum_desc_t *en;
} field_t;

#define ENUM_WRAP(tag, ctype, pfn, nfn)                                                            \
    static int tag##_parse(const char *s, int *out)                                                \
    {                                                                                              \
        ctype v;                                                                                   \
        int rc = pfn(s, &v);                                                                       \
        if (rc == 0)                                                                               \
            *out = (int)v;                                                                         \
        return rc;                                                                                 \
    }                                                                                              \
    static const char *tag##_name(int v)                                                           \
    {                                                                                              \
        return nfn((ctype)v);                                                                      \
    }

ENUM_WRAP(sev, lh_severity_t, lh_severity_parse, lh_severity_name)
ENUM_WRAP(dst, lh_deploy_status_t, lh_deploy_status_parse, lh_deploy_status_name)
ENUM_WRAP(ast, lh_alert_state_t, lh_alert_state_parse, lh_alert_state_name)
ENUM_WRAP(ist, lh_incident_state_t, lh_incident_state_parse, lh_incident_state_name)
ENUM_WRAP(tty, lh_ticket_type_t, lh_ticket_type_parse, lh_ticket_type_name)
ENUM_WRAP(tst, lh_ticket_state_t, lh_ticket_state_parse, lh_ticket_state_name)

static const enum_desc_t E_SEV = {sev_parse, sev_name, "info, warning, error, critical"};
static const enum_desc_t E_DST = {dst_parse, dst_name, "started, succeeded, failed, rolled_back"};
static const enum_desc_t E_AST = {ast_parse, ast_name, "firing, resolved"};
static const enum_desc_t E_IST = {ist_parse, ist_name, "detected, reported, resolved"};
static const enum_desc_t E_TTY = {tty_parse, tty_name, "change, incident, task"};
static const enum_desc_t E_TST = {tst_parse, tst_name,
                                  "created, approved, rejected, updated, closed"};

#define EV(f) offsetof(lh_event_t, f)
static const field_t ENVELOPE[] = {
    {"id", F_STR, EV(id), NULL},           {"time", F_TIME, EV(time_ns), NULL},
    {"service", F_STR, EV(service), NULL}, {"environment", F_STR, EV(environment), NULL},
    {"actor", F_STR, EV(actor), NULL},     {"source", F_STR, EV(source), NULL},
};
/* envelope fields written before "hosts" on output (the order of proto/loophub.proto) */
#define ENVELOPE_HEAD 4

static const field_t DEPLOY[] = {
    {"deploy_id", F_STR, EV(deploy.deploy_id), NULL},
    {"status", F_ENUM, EV(deploy.status), &E_DST},
    {"version", F_STR, EV(deploy.version), NULL},
    {"previous_version", F_STR, EV(deploy.previous_version), NULL},
    {"commit", F_STR, EV(deploy.commit), NULL},
    {"commit_time", F_TIME, EV(deploy.commit_time_ns), NULL},
    {"artifact", F_STR, EV(deploy.artifact), NULL},
    {"change_ticket", F_STR, EV(deploy.change_ticket), NULL},
    {"previous_version_derived", F_BOOL, EV(deploy.previous_version_derived), NULL},
};
static const field_t ALERT[] = {
    {"name", F_STR, EV(alert.name), NULL},
    {"fingerprint", F_STR, EV(alert.fingerprint), NULL},
    {"state", F_ENUM, EV(alert.state), &E_AST},
    {"severity", F_ENUM, EV(alert.severity), &E_SEV},
    {"summary", F_STR, EV(alert.summary), NULL},
    {"artifact", F_STR, EV(alert.artifact), NULL},
};
static const field_t INCIDENT[] = {
    {"incident_id", F_STR, EV(incident.incident_id), NULL},
    {"state", F_ENUM, EV(incident.state), &E_IST},
    {"severity", F_ENUM, EV(incident.severity), &E_SEV},
    {"title", F_STR, EV(incident.title), NULL},
    {"ticket", F_STR, EV(incident.ticket), NULL},
    {"artifact", F_STR, EV(incident.artifact), NULL},
};
static const field_t TICKET[] = {
    {"ticket_id", F_STR, EV(ticket.ticket_id), NULL}, {"type", F_ENUM, EV(ticket.type), &E_TTY},
    {"state", F_ENUM, EV(ticket.state), &E_TST},      {"url", F_STR, EV(ticket.url), NULL},
    {"summary", F_STR, EV(ticket.summary), NULL},
};
#undef EV

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    lh_kind_t kind;
    const char *name;
    const field_t *fields;
    size_t n_fields;
} body_desc_t;

static const body_desc_t BODIES[] = {
    {LH_KIND_DEPLOY, "deploy", DEPLOY, N(DEPLOY)},
    {LH_KIND_ALERT, "alert", ALERT, N(ALERT)},
    {LH_KIND_INCIDENT, "incident", INCIDENT, N(INCIDENT)},
    {LH_KIND_TICKET, "ticket", TICKET, N(TICKET)},
};

static const body_desc_t *
body_of(lh_kind_t k)
{
    for (size_t i = 0; i < N(BODIES); i++)
        if (BODIES[i].kind == k)
            return &BODIES[i];
    return NULL;
}

/* Copies at most 48 bytes of a user's string into dst for an error message, replacing control
 * characters so the reason stays on one line. */
static const char *
quote(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap && i < 48; i++)
        dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    dst[i] = '\0';
    return dst;
}

/* Reads the fields of one table from obj into the struct at base (the event). */
static int
decode_fields(lh_event_t *ev, json_t *obj, const field_t *f, size_t n, const char *prefix,
              char *why, size_t whylen)
{
    char *base = (char *)ev;
    char q[64];

    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, f[i].name);
        if (!v || json_is_null(v))
            continue;
        if (f[i].type == F_BOOL) {
            if (!json_is_boolean(v))
                LH__FAIL(LH_EDECODE, "field '%s%s' must be a boolean, not %s", prefix, f[i].name,
                         lh__json_type_name(v));
            int b = json_is_true(v);
            memcpy(base + f[i].off, &b, sizeof b);
            continue;
        }
        if (!json_is_string(v))
            LH__FAIL(LH_EDECODE, "field '%s%s' must be a string, not %s", prefix, f[i].name,
                     lh__json_type_name(v));
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len == 0)
            continue;
        switch (f[i].type) {
        case F_STR: {
            char *copy = lh_event_str(ev, s, len);
            if (!copy)
                LH__FAIL(LH_ENOMEM, "out of memory");
            memcpy(base + f[i].off, &copy, sizeof copy);
            break;
        }
        case F_TIME: {
            int64_t ns;
            if (lh_time_parse(s, &ns) != 0)
                LH__FAIL(LH_EDECODE, "field '%s%s' is not an RFC 3339 time: '%s'", prefix,
                         f[i].name, quote(q, sizeof q, s));
            memcpy(base + f[i].off, &ns, sizeof ns);
            break;
        }
        case F_ENUM: {
            int e;
            if (f[i].en->parse(s, &e) != 0)
                LH__FAIL(LH_EDECODE, "field '%s%s' has unknown value '%s' (expected %s)", prefix,
                         f[i].name, quote(q, sizeof q, s), f[i].en->expected);
            memcpy(base + f[i].off, &e, sizeof e);
            break;
        }
        case F_BOOL:
            break; /* read before the string check */
        }
    }
    return 0;
}

/* An array of strings, each added with add(). */
static int
decode_strings(lh_event_t *ev, json_t *v, const char *name,
               int (*add)(lh_event_t *, const char *, size_t), char *why, size_t whylen)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        LH__FAIL(LH_EDECODE, "field '%s' must be an array of strings, not %s", name,
                 lh__json_type_name(v));
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            LH__FAIL(LH_EDECODE, "field '%s[%zu]' must be a string, not %s", name, i,
                     lh__json_type_name(item));
        if (add(ev, json_string_value(item), json_string_length(item)) != 0)
            LH__FAIL(LH_ENOMEM, "out of memory");
    }
    return 0;
}

static int
decode_labels(lh_event_t *ev, json_t *v, char *why, size_t whylen)
{
    char q[64];
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        LH__FAIL(LH_EDECODE, "field 'labels' must be an object of strings, not %s",
                 lh__json_type_name(v));
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        if (!json_is_string(val))
            LH__FAIL(LH_EDECODE, "field 'labels.%s' must be a string, not %s",
                     quote(q, sizeof q, key), lh__json_type_name(val));
        if (lh_event_add_label(ev, key, strlen(key), json_string_value(val),
                               json_string_length(val)) != 0)
            LH__FAIL(LH_ENOMEM, "out of memory");
    }
    return 0;
}

/* Finds the kind and the one body; *body is NULL only on error. */
static int
find_body(json_t *obj, const body_desc_t **body, json_t **bobj, char *why, size_t whylen)
{
    char q[64];
    const body_desc_t *named = NULL, *found = NULL;
    json_t *kv = json_object_get(obj, "kind");

    *body = NULL;
    if (kv && !json_is_null(kv)) {
        if (!json_is_string(kv))
            LH__FAIL(LH_EDECODE, "field 'kind' must be a string, not %s", lh__json_type_name(kv));
        lh_kind_t k;
        if (json_string_length(kv) > 0) {
            if (lh_kind_parse(json_string_value(kv), &k) != 0 || !(named = body_of(k)))
                LH__FAIL(LH_EUNKNOWN_KIND,
                         "unknown kind '%s' (expected deploy, alert, incident or ticket)",
                         quote(q, sizeof q, json_string_value(kv)));
        }
    }
    for (size_t i = 0; i < N(BODIES); i++) {
        json_t *b = json_object_get(obj, BODIES[i].name);
        if (!b || json_is_null(b))
            continue;
        if (!json_is_object(b))
            LH__FAIL(LH_EDECODE, "field '%s' must be an object, not %s", BODIES[i].name,
                     lh__json_type_name(b));
        if (found)
            LH__FAIL(LH_EDECODE, "two bodies, '%s' and '%s': an event has exactly one", found->name,
                     BODIES[i].name);
        found = &BODIES[i];
        *bobj = b;
    }
    if (named && !found)
        LH__FAIL(LH_EMISSING, "kind '%s' without a '%s' object", named->name, named->name);
    if (named && found != named)
        LH__FAIL(LH_EDECODE, "kind '%s' does not match the body '%s'", named->name, found->name);
    if (!found)
        LH__FAIL(LH_EMISSING,
                 "no body: one of 'deploy', 'alert', 'incident' or 'ticket' is needed");
    *body = found;
    return 0;
}

int
lh__json_to_event(json_t *obj, lh_event_t **out, char *why, size_t whylen)
{
    const body_desc_t *body;
    json_t *bobj = NULL;
    char prefix[16];
    int rc;

    *out = NULL;
    if (!json_is_object(obj))
        LH__FAIL(LH_EDECODE, "an event must be a JSON object, not %s",
                 obj ? lh__json_type_name(obj) : "null");
    rc = find_body(obj, &body, &bobj, why, whylen);
    if (rc)
        return rc;

    lh_event_t *ev = lh_event_new();
    if (!ev)
        LH__FAIL(LH_ENOMEM, "out of memory");
    ev->kind = body->kind;
    snprintf(prefix, sizeof prefix, "%s.", body->name);
    rc = decode_fields(ev, obj, ENVELOPE, N(ENVELOPE), "", why, whylen);
    if (!rc)
        rc = decode_strings(ev, json_object_get(obj, "hosts"), "hosts", lh_event_add_host, why,
                            whylen);
    if (!rc)
        rc = decode_labels(ev, json_object_get(obj, "labels"), why, whylen);
    if (!rc)
        rc = decode_fields(ev, bobj, body->fields, body->n_fields, prefix, why, whylen);
    if (!rc && body->kind == LH_KIND_TICKET)
        rc = decode_strings(ev, json_object_get(bobj, "links"), "ticket.links", lh_event_add_link,
                            why, whylen);
    if (rc) {
        lh_event_destroy(&ev);
        return rc;
    }
    *out = ev;
    return 0;
}

/* --- encoding ------------------------------------------------------------------------------ */

static int
encode_fields(json_t *obj, const lh_event_t *ev, const field_t *f, size_t n)
{
    const char *base = (const char *)ev;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        switch (f[i].type) {
        case F_STR: {
            const char *s;
            memcpy(&s, base + f[i].off, sizeof s);
            LH_KEEP_FIRST(rc, lh__json_put_str(obj, f[i].name, s));
            break;
        }
        case F_TIME: {
            int64_t ns;
            memcpy(&ns, base + f[i].off, sizeof ns);
            LH_KEEP_FIRST(rc, lh__json_put_time(obj, f[i].name, ns));
            break;
        }
        case F_ENUM: {
            int e;
            memcpy(&e, base + f[i].off, sizeof e);
            LH_KEEP_FIRST(rc, lh__json_put_str(obj, f[i].name, f[i].en->name(e)));
            break;
        }
        case F_BOOL: {
            int b;
            memcpy(&b, base + f[i].off, sizeof b);
            if (b)
                LH_KEEP_FIRST(rc, lh__json_set(obj, f[i].name, json_true()));
            break;
        }
        }
    }
    return rc;
}

json_t *
lh__event_to_json(const lh_event_t *ev)
{
    json_t *obj = json_object();
    const body_desc_t *body = body_of(ev->kind);
    int rc = 0;

    if (!obj)
        return NULL;
    LH_KEEP_FIRST(rc, lh__json_put_str(obj, "id", ev->id));
    LH_KEEP_FIRST(rc, lh__json_put_str(obj, "kind", lh_kind_name(ev->kind)));
    LH_KEEP_FIRST(rc, encode_fields(obj, ev, ENVELOPE + 1, ENVELOPE_HEAD - 1));
    LH_KEEP_FIRST(rc, lh__json_put_strings(obj, "hosts", ev->hosts, ev->n_hosts));
    LH_KEEP_FIRST(rc,
                  encode_fields(obj, ev, ENVELOPE + ENVELOPE_HEAD, N(ENVELOPE) - ENVELOPE_HEAD));
    if (ev->n_labels) {
        json_t *l = json_object();
        for (size_t i = 0; l && i < ev->n_labels; i++)
            if (ev->labels[i].key)
                LH_KEEP_FIRST(
                    rc, lh__json_set(
                            l, ev->labels[i].key,
                            json_string_nocheck(ev->labels[i].value ? ev->labels[i].value : "")));
        LH_KEEP_FIRST(rc, lh__json_set(obj, "labels", l));
    }
    if (body) {
        json_t *b = json_object();
        LH_KEEP_FIRST(rc, encode_fields(b, ev, body->fields, body->n_fields));
        if (b && body->kind == LH_KIND_TICKET)
            LH_KEEP_FIRST(rc,
                          lh__json_put_strings(b, "links", ev->ticket.links, ev->ticket.n_links));
        LH_KEEP_FIRST(rc, lh__json_set(obj, body->name, b));
    }
    if (rc) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int
lh_codec_json_encode(const lh_event_t *ev, lh_buf_t *out)
{
    json_t *obj = lh__event_to_json(ev);
    if (!obj)
        return LH_ENOMEM;
    int rc = lh__json_dump(obj, JSON_COMPACT, out);
    json_decref(obj);
    return rc == 0 ? 0 : LH_EINVAL; /* a string that is not UTF-8, or out of memory */
}
