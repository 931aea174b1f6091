/*
 * query_doc.c - the JSON helpers the timeline document is built with. Each records LH_ENOMEM
 * in q->err on failure and does nothing once q->err is set, so gathering code reads straight.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "query_internal.h"

/* --- JSON helpers: on failure they record LH_ENOMEM in q->err ------------------------------- */

void
lh__q_jset(qctx_t *q, json_t *obj, const char *key, json_t *v)
{
    if (!v) {
        if (!q->err)
            q->err = LH_ENOMEM;
        return;
    }
    if (!obj || json_object_set_new(obj, key, v) < 0) {
        if (!obj)
            json_decref(v);
        if (!q->err)
            q->err = LH_ENOMEM;
    }
}

void
lh__q_jpush(qctx_t *q, json_t *arr, json_t *v)
{
    if (!v || !arr || json_array_append_new(arr, v) < 0) {
        if (!q->err)
            q->err = LH_ENOMEM;
    }
}

json_t *
lh__q_jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    return v ? v : json_null(); /* not UTF-8: shown as absent rather than failing the query */
}

json_t *
lh__q_jtime(int64_t ns)
{
    char b[40];
    if (ns == 0 || lh_time_format(ns, b, sizeof(b)) < 0)
        return json_null();
    return json_string(b);
}

const char *
lh__q_js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int64_t
lh__q_ji(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* Reasons are stored as a JSON array of strings; anything else is shown as one reason. */
json_t *
lh__q_jreasons(const char *text)
{
    if (!text)
        return json_array();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (json_is_array(v))
        return v;
    json_decref(v);
    json_t *a = json_array();
    if (a)
        json_array_append_new(a, lh__q_jstr(text));
    return a;
}

json_t *
lh__q_event_json(qctx_t *q, const lh_event_t *ev)
{
    json_t *v = lh__event_to_json(ev);
    if (!v && !q->err)
        q->err = LH_ENOMEM;
    return v;
}

/* Adds "events" (the newest `shown` of l, in time order), "total", "truncated", "left_out" (the
 * older events not shown), "limit" (and "unreadable" when any) to the document. */
void
lh__q_doc_events(qctx_t *q, const qlist_t *l, size_t shown)
{
    json_t *arr = json_array();
    for (size_t i = l->n - shown; i < l->n && arr; i++)
        lh__q_jpush(q, arr, lh__q_event_json(q, l->ev[i]));
    lh__q_jset(q, q->doc, "events", arr);
    lh__q_jset(q, q->doc, "total", json_integer(l->total));
    lh__q_jset(q, q->doc, "truncated", json_boolean((int64_t)shown < l->total));
    lh__q_jset(q, q->doc, "left_out", json_integer(l->total - (int64_t)shown));
    lh__q_jset(q, q->doc, "limit", q->req->limit ? json_integer(q->req->limit) : json_null());
    if (q->unreadable)
        lh__q_jset(q, q->doc, "unreadable", json_integer(q->unreadable));
}

/* Adds to o what a change's events (ev[0..n), time order) say of it as a whole, as the
 * correlator reads a change (docs/correlation.md): service and environment of its first event;
 * version, previous_version, actor, commit, commit_time, artifact and change_ticket of the latest
 * event that carries each (a status-only update erases none); the latest status; every host any
 * event named (first seen first); the labels (a later event's value for a key wins). */
void
lh__q_change_json(qctx_t *q, json_t *o, lh_event_t *const *ev, size_t n)
{
    const char *service = NULL, *env = NULL, *version = NULL, *prev = NULL, *actor = NULL,
               *commit = NULL, *artifact = NULL, *ticket = NULL;
    int64_t commit_time = 0;
    int prev_derived = 0;
    lh_deploy_status_t status = LH_DEPLOY_UNSPECIFIED;
    json_t *hosts = json_array(), *labels = json_object();
    for (size_t i = 0; i < n; i++) {
        const lh_event_t *e = ev[i];
#define FIRST(var, val)                                                                            \
    if (!(var))                                                                                    \
    var = (val)
#define LATEST(var, val)                                                                           \
    if (val)                                                                                       \
    var = (val)
        FIRST(service, e->service);
        FIRST(env, e->environment);
        LATEST(version, e->deploy.version);
        if (e->deploy.previous_version)
            prev_derived = e->deploy.previous_version_derived;
        LATEST(prev, e->deploy.previous_version);
        LATEST(actor, e->actor);
        LATEST(commit, e->deploy.commit);
        LATEST(commit_time, e->deploy.commit_time_ns);
        LATEST(artifact, e->deploy.artifact);
        LATEST(ticket, e->deploy.change_ticket);
#undef FIRST
#undef LATEST
        if (e->deploy.status)
            status = e->deploy.status;
        for (size_t h = 0; h < e->n_hosts && hosts; h++) {
            int seen = 0;
            for (size_t k = 0; k < json_array_size(hosts) && !seen; k++)
                seen = !strcmp(json_string_value(json_array_get(hosts, k)), e->hosts[h]);
            if (!seen)
                lh__q_jpush(q, hosts, lh__q_jstr(e->hosts[h]));
        }
        for (size_t l = 0; l < e->n_labels && labels; l++)
            lh__q_jset(q, labels, e->labels[l].key, lh__q_jstr(e->labels[l].value));
    }
    lh__q_jset(q, o, "service", lh__q_jstr(service));
    lh__q_jset(q, o, "environment", lh__q_jstr(env));
    lh__q_jset(q, o, "version", lh__q_jstr(version));
    lh__q_jset(q, o, "previous_version", lh__q_jstr(prev));
    if (prev && prev_derived) /* the hub took it from history: shown as such */
        lh__q_jset(q, o, "previous_version_derived", json_true());
    lh__q_jset(q, o, "actor", lh__q_jstr(actor));
    lh__q_jset(q, o, "commit", lh__q_jstr(commit));
    lh__q_jset(q, o, "commit_time", lh__q_jtime(commit_time));
    lh__q_jset(q, o, "artifact", lh__q_jstr(artifact));
    lh__q_jset(q, o, "change_ticket", lh__q_jstr(ticket));
    lh__q_jset(q, o, "status", lh__q_jstr(lh_deploy_status_name(status)));
    lh__q_jset(q, o, "hosts", hosts);
    lh__q_jset(q, o, "labels", labels);
}

/* How many of l are shown: all, or the newest limit. */
size_t
lh__q_shown_of(const qctx_t *q, const qlist_t *l)
{
    if (q->req->limit > 0 && (int64_t)l->n > q->req->limit)
        return (size_t)q->req->limit;
    return l->n;
}

/* Ticket events linking to id, or being ticket_id. */
