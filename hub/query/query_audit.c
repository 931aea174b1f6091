/*
 * query_audit.c - `loophub audit`, GET /v1/audit: every change of a period, who made it, what,
 * where, when, and whether a ticket approved it before it started.
 *
 * A change is a deploy id in one environment (docs/correlation.md). The period's deploy events
 * are read newest first, one 4-hour bucket at a time (ev_deploy_svc); each change met for the
 * first time is read whole (ev_deploy_id) and belongs to the period when its first event does.
 * Its tickets are those linking its deploy id and the change ticket it names (LH_Q_TICKETS);
 * lh_change_approval() (approval.h, shared with the correlator) decides "approved", "approved after
 * the deploy", "rejected", "not approved" or "no ticket".
 *
 * A limit (default 200) bounds the work, not only the output: the walk stops once it has that
 * many changes to show, and the document then says so ("complete": false, and until when the
 * period was read), so nothing is cut silently and a month on a large store still answers fast.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "query_internal.h"
#include "query_sql.h"
#include "store.h"

typedef struct {
    sqlite3_stmt *change, *tickets;
    json_t *counts; /* approval -> changes, of those matching every filter but --unapproved */
    json_t *shown;
    int64_t examined;
} actx_t;

/* The change (deploy_id, env) as an audit entry, or NULL when it does not belong (it started
 * before the period, or a filter leaves it out). */
static json_t *
audit_change(qctx_t *q, actx_t *a, const char *did, const char *env)
{
    const lh_report_req_t *r = q->rreq;
    qlist_t chg = {0}, tk = {0};
    json_t *o = NULL;
    sqlite3_reset(a->change);
    lh__q_bind_text(a->change, 1, did);
    lh__q_bind_text(a->change, 2, env);
    lh__q_load_events(q, a->change, &chg, 0);
    if (q->err || chg.n == 0 || chg.ev[0]->time_ns < q->from)
        goto done;
    a->examined++;
    o = json_object();
    lh__q_jset(q, o, "deploy_id", lh__q_jstr(did));
    lh__q_change_json(q, o, chg.ev, chg.n);
    const char *actor = lh__q_js(o, "actor");
    if (r->actor && (!actor || strcmp(actor, r->actor))) {
        json_decref(o);
        o = NULL;
        goto done;
    }
    int64_t started = chg.ev[0]->time_ns, finished = 0;
    for (size_t i = 0; i < chg.n; i++) {
        lh_deploy_status_t s = chg.ev[i]->deploy.status;
        if (s == LH_DEPLOY_SUCCEEDED || s == LH_DEPLOY_FAILED || s == LH_DEPLOY_ROLLED_BACK)
            finished = chg.ev[i]->time_ns;
    }
    lh__q_jset(q, o, "started", lh__q_jtime(started));
    lh__q_jset(q, o, "finished", lh__q_jtime(finished));
    lh__q_jset(q, o, "events", json_integer((json_int_t)chg.n));

    sqlite3_reset(a->tickets);
    lh__q_bind_text(a->tickets, 1, did);
    lh__q_bind_text(a->tickets, 2, lh__q_js(o, "change_ticket"));
    lh__q_load_events(q, a->tickets, &tk, 0);
    const char *by = NULL;
    const char *approval = lh_approval_name(lh_change_approval(tk.ev, tk.n, started, &by));
    lh__q_jset(q, o, "approval", json_string(approval));
    lh__q_jset(q, o, "approved_by", lh__q_jstr(by));
    lh__q_jset(q, o, "tickets", lh__q_ticket_summary(q, &tk));
    lh__q_jset(q, a->counts, approval, json_integer(lh__q_ji(a->counts, approval) + 1));
    if (r->unapproved && !strcmp(approval, "approved")) {
        json_decref(o);
        o = NULL;
    }
done:
    lh__q_list_free(&chg);
    lh__q_list_free(&tk);
    return o;
}

static int
by_started_desc(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    const char *sa = lh__q_js(a, "started"), *sb = lh__q_js(b, "started");
    int c = strcmp(sb ? sb : "", sa ? sa : ""); /* RFC 3339 UTC sorts as text */
    if (c)
        return c;
    return strcmp(lh__q_js(a, "deploy_id"), lh__q_js(b, "deploy_id"));
}

int
lh__q_walk_changes(qctx_t *q, lh__q_change_fn fn, void *arg, int64_t *stopped_at)
{
    const lh_report_req_t *r = q->rreq;
    sqlite3_stmt *walk = lh__q_prep(q, r->service ? LH_Q_AUDIT_BUCKET_SERVICE : LH_Q_AUDIT_BUCKET);
    json_t *seen = json_object(); /* "env\x1fdeploy_id" of every change met */
    if (!seen)
        q->err = LH_ENOMEM;
    int stopped = 0;
    for (int64_t b = lh_store_bucket(q->to);
         walk && seen && !q->err && !stopped && b >= lh_store_bucket(q->from); b--) {
        sqlite3_reset(walk);
        sqlite3_bind_int64(walk, 1, b);
        sqlite3_bind_int64(walk, 2, q->from);
        sqlite3_bind_int64(walk, 3, q->to);
        lh__q_bind_text(walk, 4, r->environment);
        sqlite3_bind_int(walk, 5, r->environment != NULL);
        if (r->service)
            lh__q_bind_text(walk, 6, r->service);
        while (!q->err && lh__q_step(q, walk)) {
            const char *did = lh__q_col_text(walk, 0), *env = lh__q_col_text(walk, 1);
            int64_t t = sqlite3_column_int64(walk, 2);
            size_t kl = strlen(did) + (env ? strlen(env) : 0) + 3;
            char *key = malloc(kl);
            if (!key) {
                q->err = LH_ENOMEM;
                break;
            }
            snprintf(key, kl, "%c%s\x1f%s", env ? 'e' : 'n', env ? env : "", did);
            int met = json_object_get(seen, key) != NULL;
            if (!met)
                lh__q_jset(q, seen, key, json_true());
            free(key);
            if (met)
                continue;
            if (fn(q, arg, did, env)) {
                stopped = 1; /* a change not read yet: the period is read back to here */
                *stopped_at = t;
                break;
            }
        }
    }
    sqlite3_finalize(walk);
    json_decref(seen);
    return stopped;
}

/* lh__q_walk_changes()'s callback: each change into the audit, until the limit. */
static int
audit_one(qctx_t *q, void *arg, const char *did, const char *env)
{
    actx_t *a = arg;
    if (q->rreq->limit > 0 && (int64_t)json_array_size(a->shown) >= q->rreq->limit)
        return 1;
    json_t *o = audit_change(q, a, did, env);
    if (o)
        lh__q_jpush(q, a->shown, o);
    return 0;
}

void
lh__q_gather_audit(qctx_t *q)
{
    const lh_report_req_t *r = q->rreq;
    actx_t a = {0};
    a.change = lh__q_prep(q, LH_Q_CHANGE_EVENTS_IN_ENV);
    a.tickets = lh__q_prep(q, LH_Q_TICKETS);
    a.counts = json_object();
    a.shown = json_array();
    q->doc = json_object();
    if (!a.counts || !a.shown || !q->doc)
        q->err = LH_ENOMEM;
    int64_t read_from = q->from; /* how far back the period was read */
    int complete = q->err || !lh__q_walk_changes(q, audit_one, &a, &read_from);
    sqlite3_finalize(a.change);
    sqlite3_finalize(a.tickets);
    if (!q->err && a.shown) {
        size_t n = json_array_size(a.shown);
        json_t **v = n ? calloc(n, sizeof(*v)) : NULL;
        if (n && !v)
            q->err = LH_ENOMEM;
        for (size_t i = 0; v && i < n; i++)
            v[i] = json_incref(json_array_get(a.shown, i));
        if (v) {
            qsort(v, n, sizeof(*v), by_started_desc);
            json_array_clear(a.shown);
            for (size_t i = 0; i < n; i++)
                lh__q_jpush(q, a.shown, v[i]);
            free(v);
        }
    }
    lh__q_jset(q, q->doc, "report", json_string("audit"));
    lh__q_jset(q, q->doc, "from", lh__q_jtime(q->from));
    lh__q_jset(q, q->doc, "to", lh__q_jtime(q->to));
    json_t *f = json_object();
    lh__q_jset(q, f, "service", lh__q_jstr(r->service));
    lh__q_jset(q, f, "environment", lh__q_jstr(r->environment));
    lh__q_jset(q, f, "actor", lh__q_jstr(r->actor));
    lh__q_jset(q, f, "unapproved", json_boolean(r->unapproved));
    lh__q_jset(q, q->doc, "filters", f);
    lh__q_jset(q, q->doc, "limit", r->limit ? json_integer(r->limit) : json_null());
    lh__q_jset(q, q->doc, "complete", json_boolean(complete));
    /* when the limit stopped the walk: changes with activity before this were not read */
    lh__q_jset(q, q->doc, "read_back_to", lh__q_jtime(complete ? q->from : read_from));
    lh__q_jset(q, q->doc, "examined", json_integer(a.examined));
    lh__q_jset(q, q->doc, "approval_counts", a.counts);
    lh__q_jset(q, q->doc, "changes", a.shown);
}

/* --- text ----------------------------------------------------------------------------------- */

/* "1.4.1 -> 1.4.2", "-> 1.4.2", "1.4.1 ->" or "-" */
static void
tversions(qctx_t *q, const json_t *o, int width)
{
    const char *from = lh__q_js(o, "previous_version"), *to = lh__q_js(o, "version");
    char b[160];
    if (!from && !to)
        snprintf(b, sizeof(b), "-");
    else
        snprintf(b, sizeof(b), "%s%s%s", from ? from : "", from ? " -> " : "-> ", to ? to : "?");
    lh__q_tput(q, b, width);
}

void
lh__q_text_audit(qctx_t *q)
{
    const json_t *d = q->doc, *arr = json_object_get(d, "changes");
    lh__q_tprintf(q, "Audit of ");
    lh__q_tput(q, q->rreq->store_name ? q->rreq->store_name : "the store", 0);
    lh__q_tprintf(q, ", changes started ");
    lh__q_tput(q, lh__q_js(d, "from"), 0);
    lh__q_tprintf(q, " .. ");
    lh__q_tput(q, lh__q_js(d, "to"), 0);
    lh__q_tprintf(q, ": %zu shown\n", json_array_size(arr));
    const json_t *counts = json_object_get(d, "approval_counts");
    if (json_object_size(counts)) {
        static const char *const order[] = {"approved", "approved after the deploy", "rejected",
                                            "not approved", "no ticket"};
        lh__q_tprintf(q, "  ");
        int first = 1;
        for (int k = 0; k < 5; k++) {
            int64_t n = lh__q_ji(counts, order[k]);
            if (!n)
                continue;
            lh__q_tprintf(q, "%s%lld %s", first ? "" : ", ", (long long)n, order[k]);
            first = 0;
        }
        lh__q_tprintf(q, "\n");
    }
    if (!json_is_true(json_object_get(d, "complete")))
        lh__q_tprintf(q,
                      "  (--limit %lld reached: changes with activity before %s were not read;"
                      " narrow the period or raise --limit)\n",
                      (long long)lh__q_ji(d, "limit"), lh__q_js(d, "read_back_to"));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        lh__q_tprintf(q, "\n");
        lh__q_tput(q, lh__q_js(o, "started"), 20);
        lh__q_tprintf(q, "  ");
        lh__q_tput(q, lh__q_js(o, "deploy_id"), 0);
        lh__q_tprintf(q, "  ");
        lh__q_tput(q, lh__q_js(o, "service"), 0);
        lh__q_tprintf(q, "/");
        lh__q_tput(q, lh__q_js(o, "environment"), 0);
        lh__q_tprintf(q, "  ");
        tversions(q, o, 0);
        lh__q_tprintf(q, "  ");
        lh__q_tput(q, lh__q_js(o, "status"), 0);
        lh__q_tprintf(q, "\n    by ");
        lh__q_tput(q, lh__q_js(o, "actor"), 0);
        lh__q_tprintf(q, ", ");
        lh__q_tput(q, lh__q_js(o, "approval"), 0);
        if (lh__q_js(o, "approved_by")) {
            lh__q_tprintf(q, " (");
            lh__q_tput(q, lh__q_js(o, "approved_by"), 0);
            lh__q_tprintf(q, ")");
        }
        lh__q_tprintf(q, ", finished ");
        lh__q_tput(q, lh__q_js(o, "finished"), 0);
        lh__q_tprintf(q, "\n");
        if (lh__q_js(o, "commit") || lh__q_js(o, "artifact")) {
            lh__q_tprintf(q, "    commit ");
            lh__q_tput(q, lh__q_js(o, "commit"), 0);
            lh__q_tprintf(q, ", artifact ");
            lh__q_tput(q, lh__q_js(o, "artifact"), 0);
            lh__q_tprintf(q, "\n");
        }
        const json_t *hs = json_object_get(o, "hosts");
        if (json_array_size(hs)) {
            lh__q_tprintf(q, "    hosts");
            for (size_t j = 0; j < json_array_size(hs); j++) {
                lh__q_tprintf(q, " ");
                lh__q_tput(q, json_string_value(json_array_get(hs, j)), 0);
            }
            lh__q_tprintf(q, "\n");
        }
    }
}
