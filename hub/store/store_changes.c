/*
 * store_changes.c - the facts `loophub dora` reads of each change (table `changes`, schema 8),
 * kept as deploy events arrive, and the migration that fills them for a store written before.
 *
 * A change is a deploy id in one environment. Its row holds its first event's time (the key's
 * first column, so rows are appended at the end and a period is one range of the key) and
 * service, the first succeeded, failed and rolled_back event's time, the commit time of its
 * latest event that carried one, and its events' labels merged. Those are what query_dora.c read
 * before by decoding every event of every change of the period.
 *
 * The row of the change an event belongs to is found through the change's first stored event
 * (ev_deploy_id, whose pages the insert of the event touches anyway): no index keyed by the
 * deploy id grows beside it. Events in time order give exactly what a walk of the change's events
 * gives; an event older than a later one of its change (late data) moves the start and the firsts
 * as it should, keeps the commit time of the later one, and adds only the labels the change
 * lacks (a label of a later event wins). Retention deletes a change's row with its start
 * (store_retention.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "store_internal.h"

typedef struct {
    int found;
    int64_t started, last, commit_at;
    lh_store_facts_t f;
    char *service;
    json_t *labels; /* NULL: none */
} chrow_t;

static void
row_clear(chrow_t *r)
{
    free(r->service);
    json_decref(r->labels);
    memset(r, 0, sizeof(*r));
}

/* "e" + environment, or "n": the key's environment (NULL is a value of its own). */
static char *
env_key(const char *env)
{
    size_t n = env ? strlen(env) : 0;
    char *k = malloc(n + 2);
    if (!k)
        return NULL;
    k[0] = env ? 'e' : 'n';
    if (env)
        memcpy(k + 1, env, n);
    k[n + 1] = '\0';
    return k;
}

void
lh_store_facts_encode(const lh_store_facts_t *f, unsigned char out[LH_STORE_FACTS_BYTES])
{
    const int64_t v[] = {f->deployed, f->failed, f->rolled, f->commit, f->good, f->goods};
    for (size_t i = 0; i < 6; i++)
        for (size_t b = 0; b < 8; b++)
            out[i * 8 + b] = (unsigned char)((uint64_t)v[i] >> (8 * b));
}

void
lh_store_facts_decode(const void *p, size_t n, lh_store_facts_t *f)
{
    int64_t v[6] = {0};
    const unsigned char *s = p;
    for (size_t i = 0; s && i < 6 && (i + 1) * 8 <= n; i++) {
        uint64_t x = 0;
        for (size_t b = 0; b < 8; b++)
            x |= (uint64_t)s[i * 8 + b] << (8 * b);
        v[i] = (int64_t)x;
    }
    *f = (lh_store_facts_t){v[0], v[1], v[2], v[3], v[4], v[5]};
}

static int64_t
first_of(int64_t have, int64_t t)
{
    return !have || t < have ? t : have;
}

/* Applies deploy event ev to the row of its change. */
static int
merge(chrow_t *r, const lh_event_t *ev)
{
    int64_t t = ev->time_ns;
    if (!r->found || t < r->started) {
        free(r->service);
        r->service = ev->service ? strdup(ev->service) : NULL;
        if (ev->service && !r->service)
            return LH_ENOMEM;
        if (!r->found)
            r->last = t;
        r->started = t;
        r->found = 1;
    }
    switch (ev->deploy.status) {
    case LH_DEPLOY_SUCCEEDED:
        r->f.deployed = first_of(r->f.deployed, t);
        if (ev->deploy.version) { /* a good deploy, as ev_good has it */
            r->f.good = first_of(r->f.good, t);
            r->f.goods++;
        }
        break;
    case LH_DEPLOY_FAILED:
        r->f.failed = first_of(r->f.failed, t);
        break;
    case LH_DEPLOY_ROLLED_BACK:
        r->f.rolled = first_of(r->f.rolled, t);
        break;
    default:
        break;
    }
    if (ev->deploy.commit_time_ns && (!r->f.commit || t >= r->commit_at)) {
        r->f.commit = ev->deploy.commit_time_ns;
        r->commit_at = t;
    }
    int latest = t >= r->last;
    for (size_t i = 0; i < ev->n_labels; i++) {
        const lh_label_t *l = &ev->labels[i];
        if (!l->key || !l->value)
            continue;
        if (!r->labels && !(r->labels = json_object()))
            return LH_ENOMEM;
        if ((latest || !json_object_get(r->labels, l->key)) &&
            json_object_set_new(r->labels, l->key, json_string(l->value)) < 0)
            return LH_ENOMEM;
    }
    if (t > r->last)
        r->last = t;
    return 0;
}

/* Reads the row (started, deploy_id, key) with statement get (CH_GET's columns) into r. */
static int
row_get(sqlite3_stmt *get, int64_t started, const char *deploy_id, const char *key, chrow_t *r)
{
    memset(r, 0, sizeof(*r));
    sqlite3_bind_int64(get, 1, started);
    bind_text(get, 2, deploy_id);
    bind_text(get, 3, key);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) {
        r->found = 1;
        r->started = started;
        const char *svc = (const char *)sqlite3_column_text(get, 0);
        r->service = svc ? strdup(svc) : NULL;
        r->last = sqlite3_column_int64(get, 1);
        lh_store_facts_decode(sqlite3_column_blob(get, 2), (size_t)sqlite3_column_bytes(get, 2),
                              &r->f);
        r->commit_at = sqlite3_column_int64(get, 3);
        const char *lab = (const char *)sqlite3_column_text(get, 4);
        if (lab)
            r->labels = json_loads(lab, 0, NULL); /* written by row_put: an object */
        if ((svc && !r->service) || (lab && !r->labels)) {
            sqlite3_reset(get);
            row_clear(r);
            return LH_ENOMEM;
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(get);
    return rc == SQLITE_DONE ? 0 : rc;
}

/* Writes row r of (deploy_id, key) with statement put (CH_PUT). SQLite's code. */
static int
row_put(sqlite3_stmt *put, const char *deploy_id, const char *key, const chrow_t *r)
{
    char *lab = r->labels && json_object_size(r->labels)
                    ? json_dumps(r->labels, JSON_COMPACT | JSON_SORT_KEYS)
                    : NULL;
    if (r->labels && json_object_size(r->labels) && !lab)
        return SQLITE_NOMEM;
    sqlite3_bind_int64(put, 1, r->started);
    bind_text(put, 2, deploy_id);
    bind_text(put, 3, key);
    bind_text(put, 4, r->service);
    sqlite3_bind_int64(put, 5, r->last);
    unsigned char facts[LH_STORE_FACTS_BYTES];
    lh_store_facts_encode(&r->f, facts);
    sqlite3_bind_blob(put, 6, facts, sizeof(facts), SQLITE_TRANSIENT);
    bind_int_or_null(put, 7, r->f.commit ? r->commit_at : 0);
    bind_text(put, 8, lab);
    int rc = sqlite3_step(put);
    sqlite3_reset(put);
    sqlite3_clear_bindings(put);
    free(lab);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The longest a change lasted, kept in meta as it grows (a rolled-back transaction can leave
 * the copy in memory larger than the file's: larger is safe, it only widens what a report
 * reads before its period). */
static int
note_span(lh_store_t *st, int64_t span)
{
    if (st->change_span < 0) {
        sqlite3_stmt *s = st->stmt[S_CH_SPAN_GET];
        int rc = sqlite3_step(s);
        st->change_span = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return lh__store_sql_fail(st, rc, "reading the longest change");
    }
    if (span <= st->change_span)
        return 0;
    st->change_span = span;
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)span);
    sqlite3_stmt *s = st->stmt[S_META_SET];
    sqlite3_bind_text(s, 1, "changes.max_span", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v, -1, SQLITE_TRANSIENT);
    return lh__store_step_done(st, S_META_SET, "recording the longest change");
}

int
lh__store_change_add(lh_store_t *st, const lh_event_t *ev, int64_t seq)
{
    const char *did = ev->deploy.deploy_id;
    if (ev->kind != LH_KIND_DEPLOY || !did)
        return 0;
    char *key = env_key(ev->environment);
    if (!key)
        return LH_ENOMEM;
    chrow_t r = {0};
    int err = 0;
    sqlite3_stmt *s = st->stmt[S_CH_FIRST];
    bind_text(s, 1, did);
    bind_text(s, 2, ev->environment);
    sqlite3_bind_int64(s, 3, seq);
    int rc = sqlite3_step(s);
    int64_t started = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int known = rc == SQLITE_ROW;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = lh__store_sql_fail(st, rc, "finding a change's first event");
        goto out;
    }
    /* a change without a row (its start expired): it starts again from this event */
    if (known && (rc = row_get(st->stmt[S_CH_GET], started, did, key, &r)) != 0) {
        err = rc == LH_ENOMEM ? rc : lh__store_sql_fail(st, rc, "reading a change");
        goto out;
    }
    if ((err = merge(&r, ev)) != 0)
        goto out;
    if (known && r.started != started) { /* an earlier event: the row moves to its new start */
        s = st->stmt[S_CH_DEL];
        sqlite3_bind_int64(s, 1, started);
        bind_text(s, 2, did);
        bind_text(s, 3, key);
        if ((err = lh__store_step_done(st, S_CH_DEL, "moving a change")) != 0)
            goto out;
    }
    if ((rc = row_put(st->stmt[S_CH_PUT], did, key, &r)) != SQLITE_OK)
        err = lh__store_sql_fail(st, rc, "writing a change");
    if (!err)
        err = note_span(st, r.last - r.started);
out:
    row_clear(&r);
    free(key);
    return err;
}

/* ---- migration 7 -> 8 ------------------------------------------------------------------------ */

/* The changes of one deploy id, one row per environment (a deploy id runs in a few at most). */
typedef struct {
    char *key;
    chrow_t r;
} pending_t;

static int
flush(sqlite3_stmt *put, const char *did, pending_t *p, size_t *n)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < *n; i++) {
        if (put && rc == SQLITE_OK)
            rc = row_put(put, did, p[i].key, &p[i].r);
        free(p[i].key);
        row_clear(&p[i].r);
    }
    *n = 0;
    return rc;
}

/* Every stored deploy event, by deploy id then time (ev_deploy_id), merged into its change's
 * row: the rows ingest would have written, event by event in time order. */
static int
fill_changes(lh_store_t *st)
{
    sqlite3_stmt *walk = NULL, *put = NULL;
    int rc = sqlite3_prepare_v2(st->db, SQL_FILL_CHANGES, -1, &walk, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db, lh__store_sql[S_CH_PUT], -1, &put, NULL);
    pending_t p[16];
    size_t n = 0;
    char *did = NULL;
    int err = 0;
    while (rc == SQLITE_OK && !err) {
        if ((rc = sqlite3_step(walk)) != SQLITE_ROW)
            break;
        rc = SQLITE_OK;
        /* LH_STORE_EVENT_COLS: event, id, service, environment, time, state, hosts, deploy_id */
        const char *d = (const char *)sqlite3_column_text(walk, 7);
        const char *env = (const char *)sqlite3_column_text(walk, 3);
        if (!did || strcmp(d, did) != 0) {
            if ((rc = flush(put, did, p, &n)) != SQLITE_OK)
                break;
            free(did);
            if (!(did = strdup(d))) {
                err = LH_ENOMEM;
                break;
            }
        }
        lh_event_t *ev = NULL;
        char why[128];
        const void *pb = sqlite3_column_blob(walk, 0);
        if (lh_codec_pb_decode(pb ? pb : "", (size_t)sqlite3_column_bytes(walk, 0), &ev, why,
                               sizeof(why)) != 0)
            continue; /* not one this build can read: the change reads as without it */
        err = lh_store_event_complete_row(ev, walk, 0);
        char *key = err ? NULL : env_key(env);
        if (!err && !key)
            err = LH_ENOMEM;
        size_t i = 0;
        while (!err && i < n && strcmp(p[i].key, key) != 0)
            i++;
        if (!err && i == n) {
            if (n == sizeof(p) / sizeof(p[0]) && (rc = flush(put, did, p, &n)) != SQLITE_OK) {
                free(key);
                lh_event_destroy(&ev);
                break;
            }
            i = n++;
            memset(&p[i], 0, sizeof(p[i]));
            p[i].key = key;
            key = NULL;
        }
        free(key);
        if (!err)
            err = merge(&p[i].r, ev);
        lh_event_destroy(&ev);
    }
    if (!err && rc == SQLITE_DONE)
        rc = flush(put, did, p, &n);
    else
        flush(NULL, did, p, &n);
    free(did);
    sqlite3_finalize(walk);
    sqlite3_finalize(put);
    if (err)
        return err;
    return rc == SQLITE_OK || rc == SQLITE_DONE ? 0
                                                : lh__store_sql_fail(st, rc, "filling the changes");
}

/* Every incident outcome's highest severity among its events in its environment. */
static int
fill_severities(lh_store_t *st)
{
    sqlite3_stmt *walk = NULL, *set = NULL;
    int rc = sqlite3_prepare_v2(st->db, SQL_FILL_SEVERITY_WALK, -1, &walk, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db, SQL_FILL_SEVERITY_SET, -1, &set, NULL);
    int64_t cur = 0;
    int sev = 0;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(walk);
        int64_t oseq = rc == SQLITE_ROW ? sqlite3_column_int64(walk, 0) : 0;
        if (cur && oseq != cur && sev) { /* the previous outcome is complete */
            sqlite3_bind_int64(set, 1, cur);
            sqlite3_bind_int(set, 2, sev);
            int u = sqlite3_step(set);
            sqlite3_reset(set);
            if (u != SQLITE_DONE) {
                rc = u;
                break;
            }
        }
        if (rc != SQLITE_ROW)
            break;
        if (oseq != cur)
            sev = 0;
        cur = oseq;
        lh_event_t *ev = NULL;
        char why[128];
        const void *pb = sqlite3_column_blob(walk, 1);
        if (lh_codec_pb_decode(pb ? pb : "", (size_t)sqlite3_column_bytes(walk, 1), &ev, why,
                               sizeof(why)) == 0) {
            if ((int)ev->incident.severity > sev)
                sev = (int)ev->incident.severity;
            lh_event_destroy(&ev);
        }
    }
    sqlite3_finalize(walk);
    sqlite3_finalize(set);
    return rc == SQLITE_DONE ? 0 : lh__store_sql_fail(st, rc, "filling the incidents' severity");
}

int
lh__store_fill_v8(lh_store_t *st)
{
    int rc = fill_changes(st);
    if (!rc)
        rc = fill_severities(st);
    return rc ? rc : lh__store_exec(st, SQL_FILL_SPAN, "recording the longest change");
}
