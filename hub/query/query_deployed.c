/*
 * query_deployed.c - `loophub deployed`, GET /v1/deployed: the version running per service,
 * environment and host at a moment.
 *
 * What runs is decided per service and environment by walking its succeeded deploy events
 * newest first from the moment (ev_good, query_sql.h), the rule docs/correlation.md gives the
 * rollback target:
 *  - a change runs only while its status at the moment (its latest event then) is succeeded: a
 *    change failed or rolled back later leaves the version before it in place, and is listed
 *    under "not_running";
 *  - a change that names hosts places each host no newer change placed; a change that names none
 *    was applied to the whole service: it places the row of every other host (host null) and
 *    ends the walk (hosts only older changes named run what it deployed);
 *  - the walk ends at the first change that places nothing new (the service's hosts are all
 *    accounted for), or after LH_DEPLOYED_WALK_MAX events (the document says so).
 * A row says which change put the version there, when (the event that reported it succeeded),
 * and the change's actor, commit, artifact and previous version (each from its latest event that
 * carries one, up to the moment).
 */
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "query_internal.h"
#include "query_sql.h"

#define LH_DEPLOYED_WALK_MAX 1000 /* deploy events walked per service and environment */
#define LH_DEPLOYED_NOT_RUNNING_MAX 5

typedef struct {
    sqlite3_stmt *walk, *cols;
    sqlite3_stmt *env_first, *env_text_first, *env_next; /* a service's environments */
    int64_t at;
    size_t rows;
} dctx_t;

/* What a row tells of its change, in LH_Q_CHANGE_COLS_AT's column order from column 2. */
static const char *const detail_keys[] = {"actor", "commit", "artifact", "previous_version"};

/* The change deploy_id at the moment: *state its status then, and into row the latest actor,
 * commit, artifact and previous version. */
static void
change_at(qctx_t *q, dctx_t *d, const char *deploy_id, const char *env, json_t *row, int *state)
{
    sqlite3_stmt *s = d->cols;
    *state = 0;
    sqlite3_reset(s);
    lh__q_bind_text(s, 1, deploy_id);
    lh__q_bind_text(s, 2, env);
    sqlite3_bind_int64(s, 3, d->at);
    while (lh__q_step(q, s)) {
        *state = sqlite3_column_int(s, 0);
        for (int k = 0; row && k < 4; k++) {
            const char *v = lh__q_col_text(s, 2 + k);
            if (v)
                lh__q_jset(q, row, detail_keys[k], lh__q_jstr(v));
        }
    }
}

/* One row: host (NULL: the whole service) runs the change the walk statement is on, with the
 * details change_at() read of it. */
static json_t *
placed_row(qctx_t *q, const char *host, sqlite3_stmt *w, const json_t *details)
{
    json_t *o = json_object();
    lh__q_jset(q, o, "host", lh__q_jstr(host));
    lh__q_jset(q, o, "version", lh__q_jstr(lh__q_col_text(w, 2)));
    lh__q_jset(q, o, "deploy_id", lh__q_jstr(lh__q_col_text(w, 1)));
    lh__q_jset(q, o, "since", lh__q_jtime(sqlite3_column_int64(w, 3)));
    for (int k = 0; k < 4; k++) {
        const json_t *v = json_object_get(details, detail_keys[k]);
        lh__q_jset(q, o, detail_keys[k], v ? json_incref((json_t *)v) : json_null());
    }
    return o;
}

/* Walks one service and environment (the rule at the top) and appends its entry to arr when
 * it has a row to show. */
static void
walk_pair(qctx_t *q, dctx_t *d, const char *service, const char *env, json_t *arr)
{
    const lh_report_req_t *r = q->rreq;
    json_t *hosts = json_array(), *skipped = json_array(), *placed = json_object();
    int limited = 0;
    sqlite3_stmt *w = d->walk;
    sqlite3_reset(w);
    lh__q_bind_text(w, 1, service);
    lh__q_bind_text(w, 2, env);
    sqlite3_bind_int64(w, 3, d->at);
    /* the change the last read was for: its status then, and its actor, commit, artifact and
     * previous version (one read of its events serves both) */
    char *last_id = NULL;
    int last_state = 0;
    json_t *details = NULL;
    int n = 0;
    while (!q->err && hosts && skipped && placed && lh__q_step(q, w)) {
        if (++n > LH_DEPLOYED_WALK_MAX) {
            limited = 1;
            break;
        }
        const char *did = lh__q_col_text(w, 1);
        if (!did)
            continue;
        if (!last_id || strcmp(last_id, did)) {
            free(last_id);
            last_id = strdup(did);
            if (!last_id) {
                q->err = LH_ENOMEM;
                break;
            }
            json_decref(details);
            if (!(details = json_object())) {
                q->err = LH_ENOMEM;
                break;
            }
            change_at(q, d, did, env, details, &last_state);
        }
        if (last_state != LH_DEPLOY_SUCCEEDED) {
            int seen = 0;
            for (size_t i = 0; i < json_array_size(skipped) && !seen; i++)
                seen = !strcmp(lh__q_js(json_array_get(skipped, i), "deploy_id"), did);
            if (!seen && json_array_size(skipped) < LH_DEPLOYED_NOT_RUNNING_MAX) {
                json_t *o = json_object();
                lh__q_jset(q, o, "deploy_id", lh__q_jstr(did));
                lh__q_jset(q, o, "version", lh__q_jstr(lh__q_col_text(w, 2)));
                lh__q_jset(q, o, "status", lh__q_jstr(lh_deploy_status_name(last_state)));
                lh__q_jpush(q, skipped, o);
            }
            continue;
        }
        json_t *names = lh__q_split_hosts(lh__q_col_text(w, 4));
        size_t nh = json_array_size(names), added = 0;
        if (nh == 0) {
            /* the whole service: every host no newer change placed */
            json_t *o = placed_row(q, NULL, w, details);
            if (!r->host)
                lh__q_jpush(q, hosts, o);
            else
                json_decref(o);
        }
        for (size_t i = 0; i < nh; i++) {
            const char *h = json_string_value(json_array_get(names, i));
            if (json_object_get(placed, h))
                continue;
            lh__q_jset(q, placed, h, json_true());
            added++;
            json_t *o = placed_row(q, h, w, details);
            if (!r->host || !strcmp(r->host, h))
                lh__q_jpush(q, hosts, o);
            else
                json_decref(o);
        }
        json_decref(names);
        if (nh == 0 || added == 0)
            break;
    }
    free(last_id);
    json_decref(details);
    if (!q->err && json_array_size(hosts)) {
        json_t *e = json_object();
        lh__q_jset(q, e, "service", lh__q_jstr(service));
        lh__q_jset(q, e, "environment", lh__q_jstr(env));
        lh__q_jset(q, e, "hosts", hosts);
        lh__q_jset(q, e, "not_running", skipped);
        lh__q_jset(q, e, "walk_limited", json_boolean(limited));
        d->rows += json_array_size(hosts);
        lh__q_jpush(q, arr, e);
    } else {
        json_decref(hosts);
        json_decref(skipped);
    }
    json_decref(placed);
}

/* The environments of service with a succeeded deploy, each walked (or only the one asked). */
static void
walk_service(qctx_t *q, dctx_t *d, const char *service, json_t *arr)
{
    const lh_report_req_t *r = q->rreq;
    if (r->environment) {
        walk_pair(q, d, service, r->environment, arr);
        return;
    }
    sqlite3_stmt *first = d->env_first, *text_first = d->env_text_first, *next = d->env_next;
    char *env = NULL;
    int have = 0, is_null = 0;
    if (first && text_first && next) {
        sqlite3_reset(first);
        lh__q_bind_text(first, 1, service);
        if (lh__q_step(q, first)) {
            have = 1;
            is_null = sqlite3_column_type(first, 0) == SQLITE_NULL;
            if (!is_null && !(env = strdup(lh__q_col_text(first, 0))))
                q->err = LH_ENOMEM;
        }
    }
    while (have && !q->err) {
        walk_pair(q, d, service, env, arr);
        sqlite3_stmt *s = is_null ? text_first : next;
        sqlite3_reset(s);
        lh__q_bind_text(s, 1, service);
        if (!is_null)
            lh__q_bind_text(s, 2, env); /* bound as is: freed only after the step */
        have = lh__q_step(q, s);
        free(env);
        env = NULL;
        is_null = 0;
        if (have && !(env = strdup(lh__q_col_text(s, 0))))
            q->err = LH_ENOMEM;
    }
    free(env);
}

static void
dctx_open(qctx_t *q, dctx_t *d)
{
    d->at = q->to;
    d->walk = lh__q_prep(q, LH_Q_GOOD_WALK);
    d->cols = lh__q_prep(q, LH_Q_CHANGE_COLS_AT);
    d->env_first = lh__q_prep(q, LH_Q_GOOD_ENV_FIRST); /* prepared once: 3 per service cost 15% */
    d->env_text_first = lh__q_prep(q, LH_Q_GOOD_ENV_TEXT_FIRST);
    d->env_next = lh__q_prep(q, LH_Q_GOOD_ENV_NEXT);
}

static void
dctx_close(dctx_t *d)
{
    sqlite3_finalize(d->walk);
    sqlite3_finalize(d->cols);
    sqlite3_finalize(d->env_first);
    sqlite3_finalize(d->env_text_first);
    sqlite3_finalize(d->env_next);
}

/* --- every service, on two threads ------------------------------------------------------------ */

/* The store's services with a succeeded deploy, handed out one at a time in name order to the
 * threads that walk them: each steps LH_Q_GOOD_SERVICES (one seek of ev_good) on its own
 * connection, under the lock, from the last one handed out. */
typedef struct walker walker_t;

typedef struct {
    pthread_mutex_t mu;
    char *last; /* the last one handed out ("" before the first) */
    size_t n;   /* how many were */
    int done;
    walker_t *first; /* this thread's (lh__q_test_threads() 2: the other takes one) */
} feed_t;

/* A thread's walk: its connection's statements, and an array of entries per service it walked
 * (got), with each service's number in the feed's order (num). */
struct walker {
    qctx_t q;
    dctx_t d;
    feed_t *feed;
    sqlite3_stmt *services;
    json_t *got;
    size_t *num, n, cap;
};

/* The next service (malloc'd) and its number, NULL when none is left. */
static char *
next_service(walker_t *w, size_t *num)
{
    feed_t *f = w->feed;
    char *svc = NULL;
    pthread_mutex_lock(&f->mu);
    if (!f->done && !w->q.err) {
        sqlite3_reset(w->services);
        lh__q_bind_text(w->services, 1, f->last);
        if (lh__q_step(&w->q, w->services)) {
            svc = strdup(lh__q_col_text(w->services, 0));
            char *last = svc ? strdup(svc) : NULL;
            if (last) {
                free(f->last);
                f->last = last;
                *num = f->n++;
            } else {
                free(svc);
                svc = NULL;
                w->q.err = LH_ENOMEM;
            }
        }
        if (!svc)
            f->done = 1; /* the last, or an error (the walker's) */
    }
    pthread_mutex_unlock(&f->mu);
    return svc;
}

static void *
walk_services(void *arg)
{
    walker_t *w = arg;
    size_t num;
    for (char *svc; (svc = next_service(w, &num)) != NULL;) {
        if (w->n == w->cap) {
            size_t cap = w->cap ? 2 * w->cap : 256;
            size_t *nn = realloc(w->num, cap * sizeof(*nn));
            if (nn) {
                w->num = nn;
                w->cap = cap;
            }
        }
        json_t *arr = w->n < w->cap ? json_array() : NULL;
        if (!arr || json_array_append_new(w->got, arr) < 0) { /* which takes arr either way */
            w->q.err = LH_ENOMEM;
            free(svc);
            break;
        }
        w->num[w->n++] = num;
        walk_service(&w->q, &w->d, svc, arr);
        free(svc);
        if (lh__q_threads_mode == 2 && w != w->feed->first)
            break;
    }
    return NULL;
}

/* Every service of the store, walked on this thread and, with a second connection to the store,
 * one more; their entries put back in the services' order into arr. */
static void
walk_all(qctx_t *q, json_t *arr, size_t *rows)
{
    feed_t feed = {.last = strdup("")};
    walker_t w[2] = {{.q = *q, .feed = &feed}, {.q = *q, .feed = &feed}};
    feed.first = &w[0];
    sqlite3 *db2 = lh__q_open_twin(q);
    size_t nw = db2 ? 2 : 1;
    w[1].q.db = db2;
    int mu = pthread_mutex_init(&feed.mu, NULL) == 0;
    if (!feed.last || !mu)
        q->err = LH_ENOMEM;
    for (size_t i = 0; i < nw && !q->err; i++) {
        w[i].q.err = 0;
        dctx_open(&w[i].q, &w[i].d);
        w[i].services = lh__q_prep(&w[i].q, LH_Q_GOOD_SERVICES);
        if (!(w[i].got = json_array()) && !w[i].q.err)
            w[i].q.err = LH_ENOMEM;
        if (w[i].q.err)
            q->err = w[i].q.err;
    }
    pthread_t th;
    int threaded = !q->err && nw == 2 && pthread_create(&th, NULL, walk_services, &w[1]) == 0;
    if (!q->err)
        walk_services(&w[0]);
    if (threaded)
        pthread_join(th, NULL);
    /* the services in their order: each walker's numbers increase */
    for (size_t a = 0, b = 0; !q->err && (a < w[0].n || b < w[1].n);) {
        int first = b >= w[1].n || (a < w[0].n && w[0].num[a] < w[1].num[b]);
        json_t *e = json_array_get(first ? w[0].got : w[1].got, first ? a++ : b++);
        if (json_array_extend(arr, e) < 0)
            q->err = LH_ENOMEM;
    }
    for (size_t i = 0; i < 2; i++) {
        if (w[i].q.err && !q->err)
            q->err = w[i].q.err;
        *rows += w[i].d.rows;
        dctx_close(&w[i].d);
        sqlite3_finalize(w[i].services);
        json_decref(w[i].got);
        free(w[i].num);
    }
    if (mu)
        pthread_mutex_destroy(&feed.mu);
    free(feed.last);
    sqlite3_close(db2);
}

void
lh__q_gather_deployed(qctx_t *q)
{
    const lh_report_req_t *r = q->rreq;
    dctx_t d = {0};
    json_t *arr = json_array();
    q->doc = json_object();
    if (!q->doc || !arr)
        q->err = LH_ENOMEM;
    if (r->service) {
        dctx_open(q, &d);
        walk_service(q, &d, r->service, arr);
        dctx_close(&d);
    } else {
        walk_all(q, arr, &d.rows);
    }
    lh__q_jset(q, q->doc, "report", json_string("deployed"));
    lh__q_jset(q, q->doc, "at", lh__q_jtime(q->to));
    json_t *f = json_object();
    lh__q_jset(q, f, "service", lh__q_jstr(r->service));
    lh__q_jset(q, f, "environment", lh__q_jstr(r->environment));
    lh__q_jset(q, f, "host", lh__q_jstr(r->host));
    lh__q_jset(q, q->doc, "filters", f);
    lh__q_jset(q, q->doc, "services", arr);
    lh__q_jset(q, q->doc, "rows", json_integer((json_int_t)d.rows));
}

/* --- text ----------------------------------------------------------------------------------- */

/* The columns of one row: service, environment, host ("(all)" or "(others)" for a change
 * without hosts), version, change, actor. */
static void
row_values(const json_t *e, const json_t *h, size_t n_rows, const char *v[6])
{
    v[0] = lh__q_js(e, "service");
    v[1] = lh__q_js(e, "environment");
    v[2] = lh__q_js(h, "host") ? lh__q_js(h, "host") : n_rows > 1 ? "(others)" : "(all)";
    v[3] = lh__q_js(h, "version");
    v[4] = lh__q_js(h, "deploy_id");
    v[5] = lh__q_js(h, "actor");
}

void
lh__q_text_deployed(qctx_t *q)
{
    const json_t *arr = json_object_get(q->doc, "services");
    lh__q_tprintf(q, "Deployed at ");
    lh__q_tput(q, lh__q_js(q->doc, "at"), 0);
    lh__q_tprintf(q, " (%s): %zu service%s, %lld row%s\n",
                  q->rreq->store_name ? q->rreq->store_name : "store", json_array_size(arr),
                  json_array_size(arr) == 1 ? "" : "s", (long long)lh__q_ji(q->doc, "rows"),
                  lh__q_ji(q->doc, "rows") == 1 ? "" : "s");
    if (!json_array_size(arr)) {
        lh__q_tprintf(q, "  no succeeded deploy with a version matches\n");
        return;
    }
    /* column widths from the content, each capped so a row fits 100 columns */
    static const char *const head[] = {"SERVICE", "ENV", "HOST", "VERSION", "CHANGE", "BY"};
    static const int cap[] = {18, 8, 16, 14, 14, 10};
    int w[6];
    for (int k = 0; k < 6; k++)
        w[k] = (int)strlen(head[k]);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *hs = json_object_get(e, "hosts");
        for (size_t j = 0; j < json_array_size(hs); j++) {
            const json_t *h = json_array_get(hs, j);
            const char *v[6];
            row_values(e, h, json_array_size(hs), v);
            for (int k = 0; k < 6; k++) {
                int l = lh__q_ustrlen(v[k]);
                if (l > w[k])
                    w[k] = l > cap[k] ? cap[k] : l;
            }
        }
    }
    lh__q_tprintf(q, "\n");
    for (int k = 0; k < 6; k++) {
        lh__q_tput(q, head[k], w[k]);
        lh__q_tprintf(q, "  ");
    }
    lh__q_tprintf(q, "SINCE\n");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *hs = json_object_get(e, "hosts");
        for (size_t j = 0; j < json_array_size(hs); j++) {
            const json_t *h = json_array_get(hs, j);
            const char *v[6];
            row_values(e, h, json_array_size(hs), v);
            for (int k = 0; k < 6; k++) {
                lh__q_tput(q, v[k], w[k]);
                lh__q_tprintf(q, "  ");
            }
            lh__q_tput(q, lh__q_js(h, "since"), 0);
            lh__q_tprintf(q, "\n");
        }
        const json_t *nr = json_object_get(e, "not_running");
        for (size_t j = 0; j < json_array_size(nr); j++) {
            const json_t *x = json_array_get(nr, j);
            lh__q_tprintf(q, "  not running: ");
            lh__q_tput(q, lh__q_js(x, "deploy_id"), 0);
            lh__q_tprintf(q, " ");
            lh__q_tput(q, lh__q_js(x, "version"), 0);
            lh__q_tprintf(q, " (");
            lh__q_tput(q, lh__q_js(x, "status"), 0);
            lh__q_tprintf(q, ")\n");
        }
        if (json_is_true(json_object_get(e, "walk_limited")))
            lh__q_tprintf(q, "  (only the newest %d deploys of this service were read)\n",
                          LH_DEPLOYED_WALK_MAX);
    }
}
