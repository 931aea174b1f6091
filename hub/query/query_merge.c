/*
 * query_merge.c - one timeline from the stores of several hubs (a scaled-out group,
 * docs/kafka.md): `loophub timeline --db A --db B ...`.
 *
 * Each store is queried on its own, as if it were the only one; the answers are then merged
 * into the first store's that found the subject: every list of events joined and deduplicated
 * by event id (the changes topic puts every deploy and ticket in every hub's store), kept in time
 * order; suspects joined by deploy id (a suspect named by two hubs is one, its change events
 * joined); correlated alerts and their revisions by id. The document's arrays are then written
 * again from the merged lists, so JSON, text, Markdown and HTML show the same merged timeline.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "query_internal.h"

static int
has_id(const qlist_t *l, const char *id)
{
    for (size_t i = 0; id && i < l->n; i++)
        if (l->ev[i]->id && !strcmp(l->ev[i]->id, id))
            return 1;
    return 0;
}

/* Moves into l the events of from whose id l lacks (from keeps the rest), then sorts l by time
 * (stable: a store's own order is kept for equal times). Returns the number moved. */
static size_t
join_list(qctx_t *q, qlist_t *l, qlist_t *from)
{
    size_t moved = 0;
    for (size_t i = 0; i < from->n && !q->err; i++) {
        if (!from->ev[i] || has_id(l, from->ev[i]->id))
            continue;
        if (lh__q_list_push(q, l, from->ev[i], from->seq[i]) < 0)
            break;
        from->ev[i] = NULL; /* l owns it now */
        moved++;
    }
    /* compact from (lh__q_list_free() frees what is left) */
    size_t k = 0;
    for (size_t i = 0; i < from->n; i++)
        if (from->ev[i]) {
            from->ev[k] = from->ev[i];
            from->seq[k++] = from->seq[i];
        }
    from->n = k;
    for (size_t i = 1; i < l->n; i++) /* insertion sort: the lists are short and mostly sorted */
        for (size_t j = i; j > 0 && l->ev[j - 1]->time_ns > l->ev[j]->time_ns; j--) {
            lh_event_t *t = l->ev[j];
            l->ev[j] = l->ev[j - 1];
            l->ev[j - 1] = t;
            int64_t s = l->seq[j];
            l->seq[j] = l->seq[j - 1];
            l->seq[j - 1] = s;
        }
    return moved;
}

/* The events of l as a JSON array. */
static json_t *
events_json(qctx_t *q, const qlist_t *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->n; i++)
        lh__q_jpush(q, a, lh__q_event_json(q, l->ev[i]));
    return a;
}

/* The entries of the array key of o not in b's (same value of each of the fields), appended. */
static void
join_array(qctx_t *q, json_t *b, const json_t *o, const char *key, const char *f1, const char *f2)
{
    json_t *ba = json_object_get(b, key);
    const json_t *oa = json_object_get(o, key);
    if (!ba || !oa)
        return;
    for (size_t i = 0; i < json_array_size(oa); i++) {
        const json_t *x = json_array_get(oa, i);
        int seen = 0;
        for (size_t k = 0; k < json_array_size(ba) && !seen; k++) {
            const json_t *y = json_array_get(ba, k);
            seen = json_equal(json_object_get(x, f1), json_object_get(y, f1)) &&
                   (!f2 || json_equal(json_object_get(x, f2), json_object_get(y, f2)));
        }
        if (!seen)
            lh__q_jpush(q, ba, json_incref((json_t *)x));
    }
}

/* Incident mode: o's suspects into b's, by deploy id, with their change events. */
static void
join_suspects(qctx_t *b, qctx_t *o)
{
    json_t *bs = json_object_get(b->doc, "suspects");
    const json_t *os = json_object_get(o->doc, "suspects");
    for (size_t i = 0; bs && i < json_array_size(os) && !b->err; i++) {
        json_t *x = json_array_get(os, i);
        const char *did = lh__q_js(x, "deploy_id");
        size_t k = 0;
        while (k < json_array_size(bs) &&
               strcmp(lh__q_js(json_array_get(bs, k), "deploy_id"), did ? did : ""))
            k++;
        if (k == json_array_size(bs)) { /* a suspect only o's hub named */
            qlist_t *v = realloc(b->changes, (k + 1) * sizeof(*v));
            if (!v) {
                b->err = LH_ENOMEM;
                return;
            }
            b->changes = v;
            for (size_t z = b->n_changes; z <= k; z++) /* parallel to the suspects */
                memset(&b->changes[z], 0, sizeof(qlist_t));
            b->n_changes = k + 1;
            lh__q_jpush(b, bs, json_incref(x));
        }
        if (k < b->n_changes && i < o->n_changes) {
            join_list(b, &b->changes[k], &o->changes[i]);
            lh__q_jset(b, json_array_get(bs, k), "events", events_json(b, &b->changes[k]));
        }
    }
}

/* The precedence of a change's outcome class (query.h): the hub that saw the worst says it. */
static int
class_rank(const char *c)
{
    static const char *const order[] = {"healthy", "pending", "suspect", "failed", "rolled_back"};
    for (int i = 0; c && i < 5; i++)
        if (!strcmp(c, order[i]))
            return i;
    return -1;
}

static void
merge(qctx_t *b, qctx_t *o)
{
    size_t dup = o->events.n;
    dup -= join_list(b, &b->events, &o->events);
    int64_t total = lh__q_ji(b->doc, "total") + lh__q_ji(o->doc, "total") - (int64_t)dup;
    join_list(b, &b->tickets, &o->tickets);
    join_list(b, &b->others, &o->others);
    const lh_timeline_req_t *r = b->req;
    if (r->mode == LH_TIMELINE_INCIDENT) {
        join_suspects(b, o);
        join_array(b, b->doc, o->doc, "alerts", "id", "revision");
        join_array(b, b->doc, o->doc, "outcomes", "ref", "kind");
        lh__q_jset(b, b->doc, "other_alerts", events_json(b, &b->others));
    } else if (r->mode == LH_TIMELINE_DEPLOY) {
        /* the hub that correlated an outcome with the change knows it is a suspect */
        const char *oc = lh__q_js(o->doc, "class");
        if (class_rank(oc) > class_rank(lh__q_js(b->doc, "class")))
            lh__q_jset(b, b->doc, "class", lh__q_jstr(oc));
        /* outcomes: parallel to their list; o's that b lacks, by the outcome event's id */
        json_t *bo = json_object_get(b->doc, "outcomes");
        const json_t *oo = json_object_get(o->doc, "outcomes");
        for (size_t i = 0; bo && i < json_array_size(oo) && i < o->outcomes.n; i++) {
            lh_event_t *ev = o->outcomes.ev[i];
            if (!ev || has_id(&b->outcomes, ev->id))
                continue;
            if (lh__q_list_push(b, &b->outcomes, ev, o->outcomes.seq[i]) < 0)
                return;
            o->outcomes.ev[i] = NULL;
            lh__q_jpush(b, bo, json_incref(json_array_get(oo, i)));
        }
        size_t k = 0; /* compact o's list, as join_list does */
        for (size_t i = 0; i < o->outcomes.n; i++)
            if (o->outcomes.ev[i])
                o->outcomes.ev[k++] = o->outcomes.ev[i];
        o->outcomes.n = k;
    } else {
        join_array(b, b->doc, o->doc, "alerts", "id", NULL);
    }
    lh__q_jset(b, b->doc, "tickets", events_json(b, &b->tickets));
    lh__q_doc_events(b, &b->events, lh__q_shown_of(b, &b->events));
    lh__q_jset(b, b->doc, "total", json_integer(total));
    lh__q_jset(b, b->doc, "truncated",
               json_boolean((int64_t)lh__q_shown_of(b, &b->events) < total));
    lh__q_jset(b, b->doc, "left_out", json_integer(total - (int64_t)lh__q_shown_of(b, &b->events)));
}

int
lh__q_merge_stores(qctx_t *q, size_t n)
{
    size_t base = n;
    for (size_t i = 0; i < n; i++) {
        if (q[i].err == LH_ENOTFOUND)
            continue;
        if (q[i].err)
            return q[i].err;
        if (base == n)
            base = i;
        else
            merge(&q[base], &q[i]);
        if (q[base].err)
            return q[base].err;
    }
    if (base == n)
        return LH_ENOTFOUND;
    lh__q_jset(&q[base], q[base].doc, "stores", json_integer((json_int_t)n));
    return (int)base;
}
