/*
 * codec_cloudevents.c - CloudEvents 1.0 carrying CDEvents, into lh_event_t; and correlated alerts
 * out as CloudEvents.
 *
 * Three shapes come in: a structured CloudEvent (JSON object with "specversion", the CDEvent as
 * its "data", "data" as a JSON string or "data_base64" also accepted), a bare CDEvent (object
 * with "context" and "subject", the form of the CDEvents specification's own examples) and binary
 * mode (attributes as ce_* headers, the CDEvent as the message value). Binary mode is turned into
 * the structured form first, so there is one mapping. docs/formats.md is the user's table of it.
 * lh_codec_decode_msg() is where every transport's headers come in (HTTP ce-*, Kafka ce_*): it
 * alone decides binary mode and picks the attributes out, so the transports cannot disagree.
 *
 * Precedence: the CloudEvents envelope wins over the CDEvent's context (id, source, type, time);
 * loophub's extras (service, environment, hosts, actor, deploy_id, ...) are read from CloudEvents
 * extension attributes first, then from the CDEvent's customData, then from the CDEvent itself.
 *
 * Invariants: every call reports exactly one event or one rejection to the sink; a rejection
 * names the field (as a path into the input) and a type the hub does not model is rejected with
 * LH_EUNKNOWN_KIND naming the type. Model rules (sizes, time range, service present) are not
 * checked here but by lh_event_validate(). Raw copy: from lh__cloudevents_decode() the event
 * carries none, and lh_codec_decode() attaches the payload's exact bytes (LH_FMT_CLOUDEVENTS);
 * binary mode attaches the structured CloudEvent it built (attributes + data, compact JSON).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

/* Reads obj[key] as an optional string: 0 with *out NULL when absent or null, 0 with the string,
 * or LH_EDECODE naming path+key when it has another type. */
static int
get_str(json_t *obj, const char *path, const char *key, const char **out, lh__fail_t *f)
{
    *out = NULL;
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return lh__failf(f, LH_EDECODE, "field '%s%s' must be a string, got %s", path, key,
                         lh__json_type_name(v));
    *out = json_string_value(v);
    if (**out == '\0')
        *out = NULL;
    return 0;
}

/* Like get_str, but the field is mandatory (LH_EMISSING when absent or empty). */
static int
need_str(json_t *obj, const char *path, const char *key, const char **out, lh__fail_t *f)
{
    int rc = get_str(obj, path, key, out, f);
    if (rc < 0)
        return rc;
    if (!*out)
        return lh__failf(f, LH_EMISSING, "missing mandatory field '%s%s'", path, key);
    return 0;
}

/* Reads obj[key] as an optional object (LH_EDECODE on another type). */
static int
get_obj(json_t *obj, const char *path, const char *key, json_t **out, lh__fail_t *f)
{
    *out = NULL;
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return lh__failf(f, LH_EDECODE, "field '%s%s' must be an object, got %s", path, key,
                         lh__json_type_name(v));
    *out = v;
    return 0;
}

/* --- CDEvents types --------------------------------------------------------------------- */

typedef enum {
    P_DEPLOYED,
    P_UPGRADED,
    P_ROLLEDBACK,
    P_REMOVED,
    P_DETECTED,
    P_REPORTED,
    P_RESOLVED,
    P_CREATED,
    P_UPDATED,
    P_CLOSED,
} predicate_t;

static const struct {
    const char *name; /* "<subject>.<predicate>" */
    lh_kind_t kind;
    predicate_t pred;
} cd_types[] = {
    {"service.deployed", LH_KIND_DEPLOY, P_DEPLOYED},
    {"service.upgraded", LH_KIND_DEPLOY, P_UPGRADED},
    {"service.rolledback", LH_KIND_DEPLOY, P_ROLLEDBACK},
    {"service.removed", LH_KIND_DEPLOY, P_REMOVED},
    {"incident.detected", LH_KIND_INCIDENT, P_DETECTED},
    {"incident.reported", LH_KIND_INCIDENT, P_REPORTED},
    {"incident.resolved", LH_KIND_INCIDENT, P_RESOLVED},
    {"ticket.created", LH_KIND_TICKET, P_CREATED},
    {"ticket.updated", LH_KIND_TICKET, P_UPDATED},
    {"ticket.closed", LH_KIND_TICKET, P_CLOSED},
};

#define CD_PREFIX "dev.cdevents."

/* Maps "dev.cdevents.<subject>.<predicate>[.<version>]" (any version suffix) to a kind. Returns
 * the index into cd_types, or LH_EUNKNOWN_KIND with a reason naming the type. */
static int
cd_type_lookup(const char *type, const char *field, lh__fail_t *f)
{
    size_t plen = strlen(CD_PREFIX);
    if (strncmp(type, CD_PREFIX, plen) == 0) {
        const char *name = type + plen;
        for (size_t i = 0; i < sizeof(cd_types) / sizeof(cd_types[0]); i++) {
            size_t n = strlen(cd_types[i].name);
            if (strncmp(name, cd_types[i].name, n) == 0 && (name[n] == '\0' || name[n] == '.'))
                return (int)i;
        }
        return lh__failf(f, LH_EUNKNOWN_KIND,
                         "unsupported CDEvents type '%.120s' in '%s' (loophub takes service.*, "
                         "incident.* and ticket.* events)",
                         type, field);
    }
    return lh__failf(
        f, LH_EUNKNOWN_KIND,
        "unknown CloudEvents type '%.120s' in '%s' (loophub takes dev.cdevents.* types)", type,
        field);
}

/* --- helpers building the event --------------------------------------------------------- */

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The version of a package URL ("pkg:oci/myapp@sha256%3Aabc?repository_url=x" -> "sha256:abc"),
 * percent-decoded, into the event's arena. *out stays NULL when the purl has no version. */
static int
purl_version(lh_event_t *ev, const char *purl, char **out)
{
    *out = NULL;
    if (strncmp(purl, "pkg:", 4) != 0)
        return 0;
    size_t end = strcspn(purl, "?#");
    const char *slash = NULL;
    for (const char *p = purl; p < purl + end; p++)
        if (*p == '/')
            slash = p;
    if (!slash)
        return 0;
    const char *at = memchr(slash, '@', (size_t)(purl + end - slash));
    if (!at || at + 1 >= purl + end)
        return 0;
    size_t n = (size_t)(purl + end - at - 1);
    char *v = lh_event_alloc(ev, n + 1);
    if (!v)
        return LH_ENOMEM;
    size_t j = 0;
    for (const char *p = at + 1; p < purl + end; p++) {
        int hi, lo;
        if (*p == '%' && p + 2 < purl + end && (hi = hexval(p[1])) >= 0 &&
            (lo = hexval(p[2])) >= 0) {
            v[j++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            v[j++] = *p;
        }
    }
    v[j] = 0;
    if (j == 0 || memchr(v, 0, j))
        return 0; /* a %00 in a version: leave it out rather than truncate silently */
    *out = v;
    return 0;
}

/* --- loophub extras --------------------------------------------------------------------- */

/* An extra's names: the loophub name (as in customData) and the CloudEvents extension attribute
 * name (extension names are lower-case alphanumerics, no underscore). */
static const struct {
    const char *name;
    const char *ext;
} extras[] = {
    {"service", "service"},
    {"environment", "environment"},
    {"hosts", "hosts"},
    {"actor", "actor"},
    {"deploy_id", "deployid"},
    {"version", "version"},
    {"previous_version", "previousversion"},
    {"commit", "commit"},
    {"commit_time", "committime"},
    {"change_ticket", "changeticket"},
    {"severity", "severity"},
    {"links", "links"},
    {"labels", "labels"},
};

static int
is_extra(const char *key)
{
    for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++)
        if (strcmp(key, extras[i].name) == 0)
            return 1;
    return 0;
}

/* What a decode works from. */
typedef struct {
    json_t *env;       /* the CloudEvents envelope, NULL for a bare CDEvent */
    json_t *cde;       /* the CDEvent */
    json_t *ctx;       /* cde.context (may be NULL inside a CloudEvent) */
    json_t *subj;      /* cde.subject */
    json_t *cont;      /* subject.content (may be NULL) */
    json_t *custom;    /* cde.customData when an object, else NULL */
    const char *dpath; /* path of the CDEvent in the input: "" or "data." */
    char cpath[32];    /* path of customData */
} in_t;

/* Finds an extra: the extension attribute (envelope), else customData. *path says where it was
 * found, for error messages. */
static json_t *
find_extra(const in_t *in, const char *name, const char **where, const char **key)
{
    const char *ext = NULL;
    for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++)
        if (strcmp(extras[i].name, name) == 0)
            ext = extras[i].ext;
    json_t *v;
    if (in->env) {
        /* the loophub name is accepted as an attribute too (producers that do not care about the
         * extension naming rule) */
        if (ext && (v = json_object_get(in->env, ext)) && !json_is_null(v)) {
            *where = "";
            *key = ext;
            return v;
        }
        if (ext && strcmp(ext, name) != 0 && (v = json_object_get(in->env, name)) &&
            !json_is_null(v)) {
            *where = "";
            *key = name;
            return v;
        }
    }
    if (in->custom && (v = json_object_get(in->custom, name)) && !json_is_null(v)) {
        *where = in->cpath;
        *key = name;
        return v;
    }
    return NULL;
}

/* An extra as a string (NULL when absent); LH_EDECODE when it has another type. */
static int
extra_str(const in_t *in, const char *name, const char **out, lh__fail_t *f)
{
    const char *where = "", *key = name;
    *out = NULL;
    json_t *v = find_extra(in, name, &where, &key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return lh__failf(f, LH_EDECODE, "field '%s%s' must be a string, got %s", where, key,
                         lh__json_type_name(v));
    *out = json_string_value(v);
    if (!**out)
        *out = NULL;
    return 0;
}

/* Appends the items of a list extra (a JSON array of strings, or one comma-separated string as
 * extension attributes carry it) with add(). */
static int
extra_list(const in_t *in, lh_event_t *ev, const char *name,
           int (*add)(lh_event_t *, const char *, size_t), lh__fail_t *f)
{
    const char *where = "", *key = name;
    json_t *v = find_extra(in, name, &where, &key);
    if (!v)
        return 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s) {
            size_t n = strcspn(s, ",");
            const char *b = s, *e = s + n;
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > b && add(ev, b, (size_t)(e - b)) < 0)
                return lh__failf(f, LH_ENOMEM, "out of memory");
            s += n;
            if (*s == ',')
                s++;
        }
        return 0;
    }
    if (!json_is_array(v))
        return lh__failf(f, LH_EDECODE, "field '%s%s' must be an array of strings, got %s", where,
                         key, lh__json_type_name(v));
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        if (!json_is_string(it))
            return lh__failf(f, LH_EDECODE, "field '%s%s[%zu]' must be a string, got %s", where,
                             key, i, lh__json_type_name(it));
        if (add(ev, json_string_value(it), json_string_length(it)) < 0)
            return lh__failf(f, LH_ENOMEM, "out of memory");
    }
    return 0;
}

/* Labels: customData.labels (an object of strings), then every other string-valued customData
 * entry whose key is not one of loophub's extras. Other value types stay only in raw. */
static int
add_labels(const in_t *in, lh_event_t *ev, lh__fail_t *f)
{
    if (!in->custom)
        return 0;
    json_t *lab = json_object_get(in->custom, "labels");
    const char *key;
    json_t *v;
    if (lab && !json_is_null(lab)) {
        if (!json_is_object(lab))
            return lh__failf(f, LH_EDECODE, "field '%slabels' must be an object, got %s", in->cpath,
                             lh__json_type_name(lab));
        json_object_foreach(lab, key, v)
        {
            if (!json_is_string(v))
                return lh__failf(f, LH_EDECODE, "field '%slabels.%.64s' must be a string, got %s",
                                 in->cpath, key, lh__json_type_name(v));
            if (lh_event_add_label(ev, key, (size_t)-1, json_string_value(v),
                                   json_string_length(v)) < 0)
                return lh__failf(f, LH_ENOMEM, "out of memory");
        }
    }
    json_object_foreach(in->custom, key, v)
    {
        if (!json_is_string(v) || is_extra(key))
            continue;
        if (lh_event_add_label(ev, key, (size_t)-1, json_string_value(v), json_string_length(v)) <
            0)
            return lh__failf(f, LH_ENOMEM, "out of memory");
    }
    return 0;
}

/* content.<key>.id, the CDEvents way of naming a service or an environment. */
static int
content_ref_id(const in_t *in, const char *key, const char **out, lh__fail_t *f)
{
    *out = NULL;
    char path[64];
    snprintf(path, sizeof(path), "%ssubject.content.", in->dpath);
    json_t *ref;
    if (get_obj(in->cont, path, key, &ref, f) < 0)
        return f->err;
    if (!ref)
        return 0;
    snprintf(path, sizeof(path), "%ssubject.content.%s.", in->dpath, key);
    return get_str(ref, path, "id", out, f);
}

static int
content_str(const in_t *in, const char *key, const char **out, lh__fail_t *f)
{
    char path[64];
    snprintf(path, sizeof(path), "%ssubject.content.", in->dpath);
    return get_str(in->cont, path, key, out, f);
}

/* --- the mapping ------------------------------------------------------------------------ */

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((expr) < 0)                                                                            \
            return f->err ? f->err : lh__failf(f, LH_ENOMEM, "out of memory");                     \
    } while (0)

static int
map_deploy(const in_t *in, lh_event_t *ev, predicate_t pred, const char *subject_id, lh__fail_t *f)
{
    const char *artifact, *s;
    TRY(lh__event_set_str(ev, &ev->service, subject_id));
    TRY(content_str(in, "artifactId", &artifact, f));
    TRY(lh__event_set_str(ev, &ev->deploy.artifact, artifact));
    if (artifact)
        TRY(purl_version(ev, artifact, &ev->deploy.version));
    switch (pred) {
    case P_ROLLEDBACK:
        ev->deploy.status = LH_DEPLOY_ROLLED_BACK;
        break;
    case P_REMOVED:
        /* not a change that can break anything: never a suspect, marked for queries */
        ev->deploy.status = LH_DEPLOY_ROLLED_BACK;
        TRY(lh_event_add_label(ev, "cdevents.event", (size_t)-1, "service.removed", (size_t)-1));
        break;
    default:
        ev->deploy.status = LH_DEPLOY_SUCCEEDED;
        break;
    }
    TRY(extra_str(in, "deploy_id", &s, f));
    TRY(lh__event_set_str(ev, &ev->deploy.deploy_id, s));
    TRY(extra_str(in, "version", &s, f));
    TRY(lh__event_set_str(ev, &ev->deploy.version, s));
    TRY(extra_str(in, "previous_version", &s, f));
    TRY(lh__event_set_str(ev, &ev->deploy.previous_version, s));
    TRY(extra_str(in, "commit", &s, f));
    TRY(lh__event_set_str(ev, &ev->deploy.commit, s));
    TRY(extra_str(in, "change_ticket", &s, f));
    TRY(lh__event_set_str(ev, &ev->deploy.change_ticket, s));
    TRY(extra_str(in, "commit_time", &s, f));
    if (s && lh_time_parse(s, &ev->deploy.commit_time_ns) < 0)
        return lh__failf(f, LH_EDECODE, "field 'commit_time' is not an RFC 3339 time: '%.64s'", s);
    return 0;
}

static int
map_incident(const in_t *in, lh_event_t *ev, predicate_t pred, const char *subject_id,
             lh__fail_t *f)
{
    const char *s;
    TRY(lh__event_set_str(ev, &ev->incident.incident_id, subject_id));
    ev->incident.state = pred == P_DETECTED   ? LH_INCIDENT_DETECTED
                         : pred == P_REPORTED ? LH_INCIDENT_REPORTED
                                              : LH_INCIDENT_RESOLVED;
    TRY(content_ref_id(in, "service", &s, f));
    TRY(lh__event_set_str(ev, &ev->service, s));
    TRY(content_str(in, "artifactId", &s, f));
    TRY(lh__event_set_str(ev, &ev->incident.artifact, s));
    TRY(content_str(in, "description", &s, f));
    TRY(lh__event_set_str(ev, &ev->incident.title, s));
    TRY(content_str(in, "ticketURI", &s, f));
    TRY(lh__event_set_str(ev, &ev->incident.ticket, s));
    /* An incident is a user-facing failure: critical unless the producer says otherwise. */
    ev->incident.severity = LH_SEV_CRITICAL;
    TRY(extra_str(in, "severity", &s, f));
    if (s && lh__severity_word(s, &ev->incident.severity) < 0) {
        /* an unknown word keeps the default and is kept as a label, not lost */
        TRY(lh_event_add_label(ev, "severity", (size_t)-1, s, (size_t)-1));
    }
    return 0;
}

static int
map_ticket(const in_t *in, lh_event_t *ev, predicate_t pred, const char *subject_id, lh__fail_t *f)
{
    const char *s;
    TRY(lh__event_set_str(ev, &ev->ticket.ticket_id, subject_id));
    ev->ticket.state = pred == P_CREATED   ? LH_TICKET_CREATED
                       : pred == P_UPDATED ? LH_TICKET_UPDATED
                                           : LH_TICKET_CLOSED;
    TRY(content_str(in, "summary", &s, f));
    TRY(lh__event_set_str(ev, &ev->ticket.summary, s));
    TRY(content_str(in, "uri", &s, f));
    TRY(lh__event_set_str(ev, &ev->ticket.url, s));
    TRY(content_str(in, "ticketType", &s, f));
    if (s && lh_ticket_type_parse(s, &ev->ticket.type) < 0)
        TRY(lh_event_add_label(ev, "ticket_type", (size_t)-1, s, (size_t)-1));
    /* who acted: the updater when given, else the creator */
    const char *by;
    TRY(content_str(in, "updatedBy", &by, f));
    if (!by)
        TRY(content_str(in, "creator", &by, f));
    TRY(lh__event_set_str(ev, &ev->actor, by));
    if (extra_list(in, ev, "links", lh_event_add_link, f) < 0)
        return f->err;
    return 0;
}

/* Unwraps the CloudEvent's data into a JSON object: "data" as an object, "data" as a string
 * holding JSON, or "data_base64" holding JSON. *owned is set when the result must be released. */
static int b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen);

static int
ce_data(json_t *env, json_t **data, int *owned, lh__fail_t *f)
{
    *owned = 0;
    json_t *d = json_object_get(env, "data");
    const char *text = NULL;
    size_t len = 0;
    unsigned char *bin = NULL;
    const char *field = "data";
    if (d && !json_is_null(d)) {
        if (json_is_object(d)) {
            *data = d;
            return 0;
        }
        if (!json_is_string(d))
            return lh__failf(f, LH_EDECODE, "field 'data' must be a CDEvent object, got %s",
                             lh__json_type_name(d));
        text = json_string_value(d);
        len = json_string_length(d);
    } else {
        json_t *b = json_object_get(env, "data_base64");
        if (!b || json_is_null(b))
            return lh__failf(f, LH_EMISSING,
                             "missing mandatory field 'data' (the CDEvent the CloudEvent carries)");
        if (!json_is_string(b))
            return lh__failf(f, LH_EDECODE, "field 'data_base64' must be a string, got %s",
                             lh__json_type_name(b));
        field = "data_base64";
        if (b64_decode(json_string_value(b), json_string_length(b), &bin, &len) < 0)
            return lh__failf(f, LH_EDECODE, "field 'data_base64' is not valid base64");
        text = (const char *)bin;
    }
    json_error_t jerr;
    json_t *parsed = json_loadb(text, len, 0, &jerr);
    free(bin);
    if (!parsed)
        return lh__failf(f, LH_EDECODE, "field '%s' is not valid JSON (line %d, column %d: %s)",
                         field, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(parsed)) {
        json_decref(parsed);
        return lh__failf(f, LH_EDECODE, "field '%s' must hold a CDEvent object", field);
    }
    *data = parsed;
    *owned = 1;
    return 0;
}

/* Builds the event from obj (a CloudEvent or a bare CDEvent). 0 and *out, or the error in f and
 * *id set to the event id when it could be read. */
static int
decode(json_t *obj, int set_raw, lh_event_t **out, const char **id, lh__fail_t *f)
{
    in_t in;
    memset(&in, 0, sizeof(in));
    const char *source = NULL, *type = NULL, *time = NULL, *sv = NULL, *tfield = "time";
    json_t *data = NULL;
    int owned = 0, rc, t;
    lh_event_t *ev = NULL;

    *out = NULL;
    *id = NULL;
    if (json_object_get(obj, "specversion")) {
        /* structured CloudEvent */
        in.env = obj;
        in.dpath = "data.";
        if ((rc = need_str(obj, "", "specversion", &sv, f)) < 0)
            return rc;
        if (strncmp(sv, "1.", 2) != 0 && strcmp(sv, "1") != 0)
            return lh__failf(f, LH_EDECODE,
                             "field 'specversion' is '%.32s': loophub reads CloudEvents 1.0", sv);
        if ((rc = need_str(obj, "", "id", id, f)) < 0 ||
            (rc = need_str(obj, "", "source", &source, f)) < 0 ||
            (rc = need_str(obj, "", "type", &type, f)) < 0 ||
            (rc = get_str(obj, "", "time", &time, f)) < 0)
            return rc;
        if ((t = cd_type_lookup(type, "type", f)) < 0)
            return t;
        if ((rc = ce_data(obj, &data, &owned, f)) < 0)
            return rc;
        in.cde = data;
        if ((rc = get_obj(data, "data.", "context", &in.ctx, f)) < 0)
            goto out;
        if (!time && in.ctx) {
            if ((rc = get_str(in.ctx, "data.context.", "timestamp", &time, f)) < 0)
                goto out;
            tfield = "data.context.timestamp";
        }
    } else {
        /* bare CDEvent */
        in.cde = obj;
        in.dpath = "";
        json_t *ctx = json_object_get(obj, "context");
        if (!ctx || json_is_null(ctx))
            return lh__failf(f, LH_EMISSING, "missing mandatory field 'context'");
        if (!json_is_object(ctx))
            return lh__failf(f, LH_EDECODE, "field 'context' must be an object, got %s",
                             lh__json_type_name(ctx));
        in.ctx = ctx;
        if ((rc = get_str(ctx, "context.", "id", id, f)) < 0)
            return rc;
        if ((rc = get_str(ctx, "context.", "specversion", &sv, f)) < 0)
            return rc;
        if (!sv && (rc = get_str(ctx, "context.", "version", &sv, f)) < 0)
            return rc;
        if (!*id)
            return lh__failf(f, LH_EMISSING, "missing mandatory field 'context.id'");
        if (!sv)
            return lh__failf(f, LH_EMISSING,
                             "missing mandatory field 'context.specversion' (or 'context.version' "
                             "before CDEvents 0.5)");
        if ((rc = need_str(ctx, "context.", "source", &source, f)) < 0 ||
            (rc = need_str(ctx, "context.", "type", &type, f)) < 0 ||
            (rc = get_str(ctx, "context.", "timestamp", &time, f)) < 0)
            return rc;
        tfield = "context.timestamp";
        if ((t = cd_type_lookup(type, "context.type", f)) < 0)
            return t;
    }

    snprintf(in.cpath, sizeof(in.cpath), "%scustomData.", in.dpath);
    json_t *subj = json_object_get(in.cde, "subject");
    if (!subj || json_is_null(subj)) {
        rc = lh__failf(f, LH_EMISSING, "missing mandatory field '%ssubject'", in.dpath);
        goto out;
    }
    if (!json_is_object(subj)) {
        rc = lh__failf(f, LH_EDECODE, "field '%ssubject' must be an object, got %s", in.dpath,
                       lh__json_type_name(subj));
        goto out;
    }
    in.subj = subj;
    char path[40];
    snprintf(path, sizeof(path), "%ssubject.", in.dpath);
    const char *subject_id;
    if ((rc = need_str(subj, path, "id", &subject_id, f)) < 0)
        goto out;
    if ((rc = get_obj(subj, path, "content", &in.cont, f)) < 0)
        goto out;
    json_t *cd = json_object_get(in.cde, "customData");
    if (json_is_object(cd))
        in.custom = cd; /* customData in another form (a string, base64) stays in raw only */

    ev = lh_event_new();
    if (!ev) {
        rc = lh__failf(f, LH_ENOMEM, "out of memory");
        goto out;
    }
    ev->kind = cd_types[t].kind;
    if (lh__event_set_str(ev, &ev->id, *id) < 0 || lh__event_set_str(ev, &ev->source, source) < 0) {
        rc = lh__failf(f, LH_ENOMEM, "out of memory");
        goto out;
    }
    if (time && lh_time_parse(time, &ev->time_ns) < 0) {
        rc = lh__failf(f, LH_EDECODE, "field '%s' is not an RFC 3339 time: '%.64s'", tfield, time);
        goto out;
    }

    /* the body, then the environment and the extras (which override) */
    const char *s;
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        rc = map_deploy(&in, ev, cd_types[t].pred, subject_id, f);
        break;
    case LH_KIND_INCIDENT:
        rc = map_incident(&in, ev, cd_types[t].pred, subject_id, f);
        break;
    default:
        rc = map_ticket(&in, ev, cd_types[t].pred, subject_id, f);
        break;
    }
    if (rc < 0)
        goto out;
    if ((rc = content_ref_id(&in, "environment", &s, f)) < 0 ||
        (rc = lh__event_set_str(ev, &ev->environment, s)) < 0)
        goto out;
    if ((rc = extra_str(&in, "service", &s, f)) < 0 ||
        (rc = lh__event_set_str(ev, &ev->service, s)) < 0)
        goto out;
    if ((rc = extra_str(&in, "environment", &s, f)) < 0 ||
        (rc = lh__event_set_str(ev, &ev->environment, s)) < 0)
        goto out;
    if ((rc = extra_str(&in, "actor", &s, f)) < 0 ||
        (rc = lh__event_set_str(ev, &ev->actor, s)) < 0)
        goto out;
    if ((rc = extra_list(&in, ev, "hosts", lh_event_add_host, f)) < 0)
        goto out;
    if ((rc = add_labels(&in, ev, f)) < 0)
        goto out;

    if (set_raw) {
        char *raw = json_dumps(obj, JSON_COMPACT);
        if (!raw) {
            rc = lh__failf(f, LH_ENOMEM, "out of memory");
            goto out;
        }
        rc = lh_event_set_raw(ev, raw, strlen(raw), LH_FMT_CLOUDEVENTS);
        free(raw);
        if (rc < 0) {
            lh__failf(f, LH_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = ev;
    ev = NULL;
    rc = 0;
out:
    if (rc < 0 && !f->err)
        lh__failf(f, rc, "out of memory");
    lh_event_destroy(&ev);
    if (owned)
        json_decref(data);
    return rc;
}

int
lh__is_cloudevent(json_t *obj)
{
    if (!json_is_object(obj))
        return 0;
    /* a CDEvents "context" alone is enough: the decoder then names what else is missing */
    return json_object_get(obj, "specversion") != NULL || json_object_get(obj, "context") != NULL;
}

/* Reports the outcome of one decode to the sink. Returns 1 (one sink call) or LH_ENOMEM. */
static int
report(json_t *obj, int set_raw, lh_decode_sink_fn sink, void *arg)
{
    lh__fail_t f;
    f.err = 0;
    f.why[0] = 0;
    lh_event_t *ev = NULL;
    const char *id = NULL;
    int rc = decode(obj, set_raw, &ev, &id, &f);
    if (rc == LH_ENOMEM)
        return LH_ENOMEM;
    if (rc < 0) {
        sink(NULL, rc, id, f.why, arg);
        return 1;
    }
    sink(ev, 0, id, NULL, arg);
    return 1;
}

int
lh__cloudevents_decode(json_t *obj, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    (void)o;
    if (!json_is_object(obj)) {
        sink(NULL, LH_EDECODE, NULL, "a CloudEvent must be a JSON object", arg);
        return 1;
    }
    return report(obj, 0, sink, arg);
}

/* --- binary mode ------------------------------------------------------------------------ */

static int
b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes standard or URL-safe base64 (padding optional, whitespace skipped) into a malloc'd
 * buffer. Returns 0, LH_EDECODE or LH_ENOMEM. */
static int
b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
    unsigned char *b = malloc(n / 4 * 3 + 4);
    if (!b)
        return LH_ENOMEM;
    size_t j = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value((unsigned char)c);
        if (v < 0 || pad) {
            free(b);
            return LH_EDECODE;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b[j++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out = b;
    *outlen = j;
    return 0;
}

int
lh_codec_decode_ce_binary(const lh_kv_t *attrs, size_t n_attrs, const void *data, size_t len,
                          const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    if (o && o->limits && o->limits->max_payload && len > o->limits->max_payload) {
        char why[128];
        snprintf(why, sizeof(why), "data is %zu bytes, over the limit of %zu", len,
                 o->limits->max_payload);
        sink(NULL, LH_ETOOBIG, NULL, why, arg);
        return 1;
    }
    /* The attributes and the data become one structured CloudEvent: one mapping, and the raw
     * copy keeps the attributes too. */
    json_t *obj = json_object();
    if (!obj)
        return LH_ENOMEM;
    const char *ctype = NULL;
    size_t ctype_len = 0;
    char name[64];
    for (size_t i = 0; i < n_attrs; i++) {
        const lh_kv_t *a = &attrs[i];
        if (!a->key || !a->value)
            continue;
        size_t kl = strlen(a->key);
        if (kl == 0 || kl >= sizeof(name))
            continue; /* no CloudEvents attribute name is that long */
        for (size_t k = 0; k <= kl; k++)
            name[k] = (char)((a->key[k] >= 'A' && a->key[k] <= 'Z') ? a->key[k] + 32 : a->key[k]);
        if (strcmp(name, "content-type") == 0 || strcmp(name, "datacontenttype") == 0) {
            ctype = a->value;
            ctype_len = a->value_len;
            strcpy(name, "datacontenttype");
        }
        if (strcmp(name, "data") == 0 || strcmp(name, "data_base64") == 0)
            continue;
        if (memchr(a->value, 0, a->value_len)) {
            /* a header value carries its length; the attribute read back would stop at the NUL */
            json_decref(obj);
            char why[128];
            snprintf(why, sizeof(why), "attribute '%s' contains a NUL byte", name);
            sink(NULL, LH_EDECODE, NULL, why, arg);
            return 1;
        }
        json_t *v = json_stringn(a->value, a->value_len);
        if (!v) {
            json_decref(obj);
            char why[128];
            snprintf(why, sizeof(why), "attribute '%s' is not valid UTF-8", name);
            sink(NULL, LH_EDECODE, NULL, why, arg);
            return 1;
        }
        if (json_object_get(obj, name)) {
            json_decref(v); /* the first occurrence of a header wins */
            continue;
        }
        if (json_object_set_new(obj, name, v) < 0) {
            json_decref(obj);
            return LH_ENOMEM;
        }
    }
    lh__fail_t f;
    f.err = 0;
    f.why[0] = 0;
    const char *id = NULL;
    json_t *idv = json_object_get(obj, "id");
    if (json_is_string(idv))
        id = json_string_value(idv);
    if (!json_object_get(obj, "specversion"))
        lh__failf(&f, LH_EMISSING, "missing mandatory attribute 'specversion' (ce_specversion)");
    else if (!id)
        lh__failf(&f, LH_EMISSING, "missing mandatory attribute 'id' (ce_id)");
    else if (!json_object_get(obj, "source"))
        lh__failf(&f, LH_EMISSING, "missing mandatory attribute 'source' (ce_source)");
    else if (!json_object_get(obj, "type"))
        lh__failf(&f, LH_EMISSING, "missing mandatory attribute 'type' (ce_type)");
    else if (ctype && !(ctype_len >= 16 && strncasecmp(ctype, "application/json", 16) == 0) &&
             !memmem(ctype, ctype_len, "+json", 5))
        lh__failf(&f, LH_EDECODE,
                  "data content type '%.*s' is not JSON (loophub reads CDEvents JSON)",
                  (int)(ctype_len > 64 ? 64 : ctype_len), ctype);
    if (!f.err) {
        if (!data || len == 0) {
            lh__failf(&f, LH_EMISSING,
                      "missing mandatory field 'data' (the CDEvent, as the value)");
        } else {
            json_error_t jerr;
            json_t *d = json_loadb(data, len, 0, &jerr);
            if (!d)
                lh__failf(&f, LH_EDECODE, "data is not valid JSON (line %d, column %d: %s)",
                          jerr.line, jerr.column, jerr.text);
            else if (!json_is_object(d)) {
                json_decref(d);
                lh__failf(&f, LH_EDECODE, "data must be a CDEvent object");
            } else if (json_object_set_new(obj, "data", d) < 0) {
                json_decref(obj);
                return LH_ENOMEM;
            }
        }
    }
    int rc;
    if (f.err) {
        sink(NULL, f.err, id, f.why, arg);
        rc = 1;
    } else {
        rc = report(obj, 1, sink, arg);
    }
    json_decref(obj);
    return rc;
}

/* --- binary mode from a transport's headers -------------------------------------------------- */

/* The attribute a transport header carries: "ce-<name>" (HTTP) or "ce_<name>" (Kafka), prefix in
 * any case, gives <name>; "content-type" (any case) gives "content-type"; anything else NULL. */
static const char *
header_attr(const char *key)
{
    if (!key)
        return NULL;
    if ((key[0] == 'c' || key[0] == 'C') && (key[1] == 'e' || key[1] == 'E') &&
        (key[2] == '-' || key[2] == '_') && key[3])
        return key + 3;
    if (strcasecmp(key, "content-type") == 0)
        return "content-type";
    return NULL;
}

/* 1 when a content-type value names a structured CloudEvent (single or batch). */
static int
ctype_structured(const char *v, size_t len)
{
    static const char pre[] = "application/cloudevents";
    size_t n = sizeof(pre) - 1;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    return len >= n && strncasecmp(v, pre, n) == 0;
}

/* 1 when the headers put the message in CloudEvents binary mode (see lh_codec_decode_msg()). */
static int
binary_mode(const lh_kv_t *h, size_t n)
{
    int spec = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = header_attr(h[i].key);
        if (!a)
            continue;
        if (a != h[i].key + 3) { /* content-type */
            if (h[i].value && ctype_structured(h[i].value, h[i].value_len))
                return 0;
        } else if (strcasecmp(a, "specversion") == 0) {
            spec = 1;
        }
    }
    return spec;
}

#define CE_HEADERS_ON_STACK 64

int
lh_codec_decode_msg(const void *buf, size_t len, lh_format_t hint, const lh_kv_t *headers,
                    size_t n_headers, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    return lh_codec_decode_src(buf, len, hint, headers, n_headers, o, sink, arg, NULL);
}

int
lh_codec_decode_src(const void *buf, size_t len, lh_format_t hint, const lh_kv_t *headers,
                    size_t n_headers, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg,
                    int *source)
{
    /* a webhook source's own headers come first: a Tekton event is a CloudEvent in binary mode
     * whose data is no CDEvent */
    int src = hint == LH_FMT_AUTO ? lh_source_of_headers(headers, n_headers) : LH_SRC_NONE;
    if (src != LH_SRC_NONE)
        hint = (lh_format_t)(LH_FMT_GITHUB + src);
    if (source)
        *source = LH_SRC_NONE;
    if (!headers || n_headers == 0 || (hint != LH_FMT_AUTO && hint != LH_FMT_CLOUDEVENTS) ||
        !binary_mode(headers, n_headers))
        return lh__codec_decode_hdr(buf, len, hint, headers, n_headers, o, sink, arg, source);
    lh_kv_t stack[CE_HEADERS_ON_STACK];
    lh_kv_t *attrs = stack;
    if (n_headers > CE_HEADERS_ON_STACK) {
        attrs = malloc(n_headers * sizeof(*attrs));
        if (!attrs)
            return LH_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_headers; i++) {
        const char *a = header_attr(headers[i].key);
        if (!a)
            continue;
        attrs[n].key = a;
        attrs[n].value = headers[i].value;
        attrs[n].value_len = headers[i].value ? headers[i].value_len : 0;
        n++;
    }
    int rc = lh_codec_decode_ce_binary(attrs, n, buf, len, o, sink, arg);
    if (attrs != stack)
        free(attrs);
    return rc;
}
