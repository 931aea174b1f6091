/*
 * codec_alert.c - correlated alerts in loophub's JSON form (README.md, Formats), and the choice of
 * alert encoding a subscriber makes (protobuf, JSON, CloudEvent).
 *
 * {"id","seq","kind","service","environment","late","created","rollback_version",
 *  "outcome":{event JSON},"suspects":[{"deploy_id","event_id","service","environment","version",
 *  "previous_version","previous_version_derived","actor","commit","artifact","hosts",
 *  "deploy_time","lead_seconds","score","reasons"}],"revision","changes":[...],"resolved",
 *  "resolved_time","outcomes":[{"kind","ref","event_id","title","time","resolved"}],
 *  "rollbacks":[{"service","version","deploy_id","from_version","derived"}]}
 *
 * Invariants: encode omits absent strings, zero times, false flags of suspects and empty lists,
 * always writes seq, kind, late, revision, resolved and a rollback's derived (a subscriber
 * reading a revision or whether the alert is final should not have to know a default); decode
 * checks every type (a wrong one is LH_EDECODE, logged with the field) and gives back what
 * encode wrote; the score is written with 10 significant digits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"

/* --- encode ---------------------------------------------------------------------------------- */

static json_t *
suspect_to_json(const lh_suspect_t *s)
{
    json_t *o = json_object();
    int rc = 0;
    if (!o)
        return NULL;
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "deploy_id", s->deploy_id));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "event_id", s->event_id));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "service", s->service));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "environment", s->environment));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "version", s->version));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "previous_version", s->previous_version));
    if (s->previous_version_derived)
        LH_KEEP_FIRST(rc, lh__json_set(o, "previous_version_derived", json_true()));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "actor", s->actor));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "commit", s->commit));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "artifact", s->artifact));
    LH_KEEP_FIRST(rc, lh__json_put_strings(o, "hosts", s->hosts, s->n_hosts));
    LH_KEEP_FIRST(rc, lh__json_put_time(o, "deploy_time", s->deploy_time_ns));
    LH_KEEP_FIRST(rc, lh__json_set(o, "lead_seconds", json_integer(s->lead_seconds)));
    LH_KEEP_FIRST(rc, lh__json_set(o, "score", json_real(s->score)));
    LH_KEEP_FIRST(rc, lh__json_put_strings(o, "reasons", s->reasons, s->n_reasons));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
outcome_to_json(const lh_ca_outcome_t *c)
{
    json_t *o = json_object();
    int rc = 0;
    if (!o)
        return NULL;
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "kind", lh_kind_name(c->kind)));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "ref", c->ref));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "event_id", c->event_id));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "title", c->title));
    LH_KEEP_FIRST(rc, lh__json_put_time(o, "time", c->time_ns));
    LH_KEEP_FIRST(rc, lh__json_put_time(o, "resolved", c->resolved_ns));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
rollback_to_json(const lh_rollback_t *r)
{
    json_t *o = json_object();
    int rc = 0;
    if (!o)
        return NULL;
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "service", r->service));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "version", r->version));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "deploy_id", r->deploy_id));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "from_version", r->from_version));
    LH_KEEP_FIRST(rc, lh__json_set(o, "derived", json_boolean(r->derived)));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
lh__alert_to_json(const lh_correlated_t *ca)
{
    json_t *o = json_object();
    int rc = 0;
    if (!o)
        return NULL;
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "id", ca->id));
    LH_KEEP_FIRST(rc, lh__json_set(o, "seq", json_integer((json_int_t)ca->seq)));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "kind", lh_ca_kind_name(ca->kind)));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "service", ca->service));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "environment", ca->environment));
    LH_KEEP_FIRST(rc, lh__json_set(o, "late", json_boolean(ca->late)));
    LH_KEEP_FIRST(rc, lh__json_put_time(o, "created", ca->created_ns));
    LH_KEEP_FIRST(rc, lh__json_put_str(o, "rollback_version", ca->rollback_version));
    if (ca->outcome)
        LH_KEEP_FIRST(rc, lh__json_set(o, "outcome", lh__event_to_json(ca->outcome)));
    json_t *a = json_array();
    for (size_t i = 0; a && i < ca->n_suspects; i++)
        LH_KEEP_FIRST(rc, lh__json_push(a, suspect_to_json(&ca->suspects[i])));
    LH_KEEP_FIRST(rc, lh__json_set(o, "suspects", a));
    if (ca->more_suspects)
        LH_KEEP_FIRST(rc, lh__json_set(o, "more_suspects", json_integer(ca->more_suspects)));
    LH_KEEP_FIRST(rc, lh__json_set(o, "revision", json_integer((json_int_t)ca->revision)));
    LH_KEEP_FIRST(rc, lh__json_put_strings(o, "changes", ca->changes, ca->n_changes));
    LH_KEEP_FIRST(rc, lh__json_set(o, "resolved", json_boolean(ca->resolved)));
    LH_KEEP_FIRST(rc, lh__json_put_time(o, "resolved_time", ca->resolved_ns));
    if (ca->n_outcomes) {
        a = json_array();
        for (size_t i = 0; a && i < ca->n_outcomes; i++)
            LH_KEEP_FIRST(rc, lh__json_push(a, outcome_to_json(&ca->outcomes[i])));
        LH_KEEP_FIRST(rc, lh__json_set(o, "outcomes", a));
    }
    if (ca->n_rollbacks) {
        a = json_array();
        for (size_t i = 0; a && i < ca->n_rollbacks; i++)
            LH_KEEP_FIRST(rc, lh__json_push(a, rollback_to_json(&ca->rollbacks[i])));
        LH_KEEP_FIRST(rc, lh__json_set(o, "rollbacks", a));
    }
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
lh_codec_alert_json_encode(const lh_correlated_t *ca, lh_buf_t *out)
{
    json_t *o = lh__alert_to_json(ca);
    if (!o)
        return LH_ENOMEM;
    int rc = lh__json_dump(o, JSON_COMPACT | JSON_REAL_PRECISION(10), out);
    json_decref(o);
    return rc == 0 ? 0 : LH_EINVAL;
}

int
lh_alerts_format_parse(const char *s, lh_alerts_format_t *out)
{
    static const struct {
        const char *name;
        lh_alerts_format_t f;
    } names[] = {
        {"protobuf", LH_ALERTS_PROTOBUF},
        {"json", LH_ALERTS_JSON},
        {"cloudevents", LH_ALERTS_CLOUDEVENTS},
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    }
    return LH_EINVAL;
}

int
lh_codec_alert_encode(const lh_correlated_t *ca, lh_alerts_format_t f, lh_buf_t *out)
{
    switch (f) {
    case LH_ALERTS_PROTOBUF:
        return lh_codec_alert_pb_encode(ca, out);
    case LH_ALERTS_JSON:
        return lh_codec_alert_json_encode(ca, out);
    case LH_ALERTS_CLOUDEVENTS:
        return lh__alert_cloudevent_encode(ca, out);
    }
    return LH_EINVAL;
}

/* --- decode ---------------------------------------------------------------------------------- */

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, whylen, __VA_ARGS__);                                                        \
        return LH_EDECODE;                                                                         \
    } while (0)

/* Optional string field: *dst is a malloc'd copy, or stays NULL when absent, null or "". */
static int
get_str(json_t *o, const char *key, char **dst, const char *ctx, char *why, size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        BAD("field '%s%s' must be a string", ctx, key);
    if (json_string_length(v) == 0)
        return 0;
    *dst = strdup(json_string_value(v));
    return *dst ? 0 : LH_ENOMEM;
}

static int
get_time(json_t *o, const char *key, int64_t *dst, const char *ctx, char *why, size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        BAD("field '%s%s' must be a string", ctx, key);
    if (json_string_length(v) && lh_time_parse(json_string_value(v), dst) != 0)
        BAD("field '%s%s' is not an RFC 3339 time", ctx, key);
    return 0;
}

static int
get_bool(json_t *o, const char *key, int *dst, const char *ctx, char *why, size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        BAD("field '%s%s' must be a boolean", ctx, key);
    *dst = json_is_true(v);
    return 0;
}

/* What get_strings() adds with: the typed adders of a suspect's and an alert's lists. */
static int
add_host(void *s, const char *v)
{
    return lh_suspect_add_host(s, v);
}

static int
add_reason(void *s, const char *v)
{
    return lh_suspect_add_reason(s, v);
}

static int
add_change(void *ca, const char *v)
{
    return lh_correlated_add_change(ca, v);
}

static int
get_strings(json_t *o, const char *key, void *s, int (*add)(void *, const char *), const char *ctx,
            char *why, size_t whylen)
{
    json_t *v = json_object_get(o, key);
    size_t i;
    json_t *item;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        BAD("field '%s%s' must be an array of strings", ctx, key);
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            BAD("field '%s%s[%zu]' must be a string", ctx, key, i);
        if (add(s, json_string_value(item)) != 0)
            return LH_ENOMEM;
    }
    return 0;
}

static int
suspect_from_json(json_t *o, lh_suspect_t *s, const char *ctx, char *why, size_t whylen)
{
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
        {"deploy_id", offsetof(lh_suspect_t, deploy_id)},
        {"event_id", offsetof(lh_suspect_t, event_id)},
        {"service", offsetof(lh_suspect_t, service)},
        {"environment", offsetof(lh_suspect_t, environment)},
        {"version", offsetof(lh_suspect_t, version)},
        {"previous_version", offsetof(lh_suspect_t, previous_version)},
        {"actor", offsetof(lh_suspect_t, actor)},
        {"commit", offsetof(lh_suspect_t, commit)},
        {"artifact", offsetof(lh_suspect_t, artifact)},
    };
    int rc = 0;
    if (!json_is_object(o))
        BAD("%s must be an object", ctx);
    for (size_t i = 0; !rc && i < sizeof strs / sizeof strs[0]; i++)
        rc = get_str(o, strs[i].key, (char **)(void *)((char *)s + strs[i].off), ctx, why, whylen);
    if (!rc)
        rc = get_time(o, "deploy_time", &s->deploy_time_ns, ctx, why, whylen);
    if (!rc)
        rc = get_strings(o, "hosts", s, add_host, ctx, why, whylen);
    if (!rc)
        rc = get_strings(o, "reasons", s, add_reason, ctx, why, whylen);
    if (!rc)
        rc =
            get_bool(o, "previous_version_derived", &s->previous_version_derived, ctx, why, whylen);
    if (rc)
        return rc;
    json_t *v = json_object_get(o, "lead_seconds");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v))
            BAD("field '%slead_seconds' must be an integer", ctx);
        s->lead_seconds = json_integer_value(v);
    }
    v = json_object_get(o, "score");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v))
            BAD("field '%sscore' must be a number", ctx);
        s->score = json_number_value(v);
    }
    return 0;
}

static int
outcome_from_json(json_t *o, lh_ca_outcome_t *c, const char *ctx, char *why, size_t whylen)
{
    int rc;
    if (!json_is_object(o))
        BAD("%s must be an object", ctx);
    /* an outcome is an incident or a monitoring alert: nothing else ends a case */
    json_t *v = json_object_get(o, "kind");
    if (!json_is_string(v) || lh_kind_parse(json_string_value(v), &c->kind) != 0 ||
        (c->kind != LH_KIND_INCIDENT && c->kind != LH_KIND_ALERT))
        BAD("field '%skind' must be incident or alert", ctx);
    if ((rc = get_str(o, "ref", &c->ref, ctx, why, whylen)) ||
        (rc = get_str(o, "event_id", &c->event_id, ctx, why, whylen)) ||
        (rc = get_str(o, "title", &c->title, ctx, why, whylen)) ||
        (rc = get_time(o, "time", &c->time_ns, ctx, why, whylen)) ||
        (rc = get_time(o, "resolved", &c->resolved_ns, ctx, why, whylen)))
        return rc;
    return 0;
}

static int
rollback_from_json(json_t *o, lh_rollback_t *r, const char *ctx, char *why, size_t whylen)
{
    int rc;
    if (!json_is_object(o))
        BAD("%s must be an object", ctx);
    if ((rc = get_str(o, "service", &r->service, ctx, why, whylen)) ||
        (rc = get_str(o, "version", &r->version, ctx, why, whylen)) ||
        (rc = get_str(o, "deploy_id", &r->deploy_id, ctx, why, whylen)) ||
        (rc = get_str(o, "from_version", &r->from_version, ctx, why, whylen)) ||
        (rc = get_bool(o, "derived", &r->derived, ctx, why, whylen)))
        return rc;
    return 0;
}

/* Every element of the array o[key] through one(), into a new element made by add(). */
static int
get_objects(json_t *o, const char *key, lh_correlated_t *ca, void *(*add)(lh_correlated_t *),
            int (*one)(json_t *, void *, const char *, char *, size_t), char *why, size_t whylen)
{
    json_t *v = json_object_get(o, key);
    size_t i;
    json_t *item;
    int rc;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        BAD("field '%s' must be an array", key);
    json_array_foreach(v, i, item)
    {
        char ctx[48];
        void *e = add(ca);
        if (!e)
            return LH_ENOMEM;
        snprintf(ctx, sizeof ctx, "%s[%zu].", key, i);
        if ((rc = one(item, e, ctx, why, whylen)))
            return rc;
    }
    return 0;
}

/* get_objects() adapters: the typed element functions behind void pointers. */
static void *
new_suspect(lh_correlated_t *ca)
{
    return lh_correlated_add_suspect(ca);
}

static void *
new_outcome(lh_correlated_t *ca)
{
    return lh_correlated_add_outcome(ca);
}

static void *
new_rollback(lh_correlated_t *ca)
{
    return lh_correlated_add_rollback(ca);
}

static int
one_suspect(json_t *o, void *e, const char *ctx, char *why, size_t whylen)
{
    return suspect_from_json(o, e, ctx, why, whylen);
}

static int
one_outcome(json_t *o, void *e, const char *ctx, char *why, size_t whylen)
{
    return outcome_from_json(o, e, ctx, why, whylen);
}

static int
one_rollback(json_t *o, void *e, const char *ctx, char *why, size_t whylen)
{
    return rollback_from_json(o, e, ctx, why, whylen);
}

static int
alert_from_json(json_t *o, lh_correlated_t *ca, char *why, size_t whylen)
{
    int rc;
    json_t *v;
    if (!json_is_object(o))
        BAD("a correlated alert must be a JSON object");
    if ((rc = get_str(o, "id", &ca->id, "", why, whylen)) ||
        (rc = get_str(o, "service", &ca->service, "", why, whylen)) ||
        (rc = get_str(o, "environment", &ca->environment, "", why, whylen)) ||
        (rc = get_str(o, "rollback_version", &ca->rollback_version, "", why, whylen)) ||
        (rc = get_time(o, "created", &ca->created_ns, "", why, whylen)))
        return rc;
    v = json_object_get(o, "seq");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            BAD("field 'seq' must be a non-negative integer");
        ca->seq = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(o, "kind");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || lh_ca_kind_parse(json_string_value(v), &ca->kind) != 0)
            BAD("field 'kind' must be deploy_preceded_incident, deploy_preceded_alert or "
                "unapproved_change");
    }
    if ((rc = get_bool(o, "late", &ca->late, "", why, whylen)))
        return rc;
    v = json_object_get(o, "outcome");
    if (v && !json_is_null(v)) {
        char w[200];
        rc = lh__json_to_event(v, &ca->outcome, w, sizeof w);
        if (rc == LH_ENOMEM)
            return rc;
        if (rc)
            BAD("field 'outcome': %s", w);
    }
    v = json_object_get(o, "revision");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > (json_int_t)UINT32_MAX)
            BAD("field 'revision' must be an integer from 0 to %lu", (unsigned long)UINT32_MAX);
        ca->revision = (uint32_t)json_integer_value(v);
    }
    v = json_object_get(o, "more_suspects");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > (json_int_t)UINT32_MAX)
            BAD("field 'more_suspects' must be an integer from 0 to %lu",
                (unsigned long)UINT32_MAX);
        ca->more_suspects = (uint32_t)json_integer_value(v);
    }
    if ((rc = get_strings(o, "changes", ca, add_change, "", why, whylen)) ||
        (rc = get_bool(o, "resolved", &ca->resolved, "", why, whylen)) ||
        (rc = get_time(o, "resolved_time", &ca->resolved_ns, "", why, whylen)) ||
        (rc = get_objects(o, "suspects", ca, new_suspect, one_suspect, why, whylen)) ||
        (rc = get_objects(o, "outcomes", ca, new_outcome, one_outcome, why, whylen)) ||
        (rc = get_objects(o, "rollbacks", ca, new_rollback, one_rollback, why, whylen)))
        return rc;
    return 0;
}

int
lh_codec_alert_json_decode(const char *buf, size_t len, lh_correlated_t **out)
{
    json_error_t jerr;
    char why[256];
    int rc;

    *out = NULL;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        lh_log_ratelimited("codec.alert.json", LH_LOG_DEBUG, "codec",
                           "correlated alert: invalid JSON at line %d column %d: %s", jerr.line,
                           jerr.column, jerr.text);
        return LH_EDECODE;
    }
    lh_correlated_t *ca = lh_correlated_new();
    rc = ca ? alert_from_json(root, ca, why, sizeof why) : LH_ENOMEM;
    json_decref(root);
    if (rc) {
        if (rc == LH_EDECODE)
            lh_log_ratelimited("codec.alert.json", LH_LOG_DEBUG, "codec", "correlated alert: %s",
                               why);
        lh_correlated_destroy(&ca);
        return rc;
    }
    *out = ca;
    return 0;
}

/* --- as a CloudEvent ------------------------------------------------------------------------ */

#define LH_ALERT_CE_TYPE "dev.loophub.alert.correlated.0.1.0"

int
lh__alert_cloudevent_encode(const lh_correlated_t *ca, lh_buf_t *out)
{
    if (!ca || !ca->id)
        return LH_EINVAL;
    json_t *data = lh__alert_to_json(ca);
    if (!data)
        return LH_ENOMEM;
    json_t *ce = json_object();
    char *ceid = NULL;
    int rc = LH_ENOMEM;
    if (!ce)
        goto done;
    char tbuf[40];
    /* source + id identify a CloudEvent, and consumers may drop a second one as a duplicate:
     * a re-sent revision keeps its id, a new revision of the alert gets its own (the first keeps
     * the bare alert id, as before revisions existed) */
    if (ca->revision > 1) {
        size_t n = strlen(ca->id) + sizeof "-r4294967295";
        if (!(ceid = malloc(n)))
            goto done;
        snprintf(ceid, n, "%s-r%lu", ca->id, (unsigned long)ca->revision);
    }
    if (json_object_set_new(ce, "specversion", json_string("1.0")) < 0 ||
        json_object_set_new(ce, "id", json_string(ceid ? ceid : ca->id)) < 0 ||
        json_object_set_new(ce, "source", json_string("loophub")) < 0 ||
        json_object_set_new(ce, "type", json_string(LH_ALERT_CE_TYPE)) < 0)
        goto done;
    if (ca->created_ns > 0 && lh_time_format(ca->created_ns, tbuf, sizeof(tbuf)) > 0 &&
        json_object_set_new(ce, "time", json_string(tbuf)) < 0)
        goto done;
    if (ca->service && json_object_set_new(ce, "subject", json_string(ca->service)) < 0)
        goto done;
    if (json_object_set_new(ce, "datacontenttype", json_string("application/json")) < 0)
        goto done;
    if (json_object_set(ce, "data", data) < 0)
        goto done;
    if (lh__json_dump(ce, JSON_COMPACT | JSON_REAL_PRECISION(10), out) < 0)
        goto done;
    rc = 0;
done:
    free(ceid);
    json_decref(ce);
    json_decref(data);
    return rc;
}
