/*
 * correlator.c - links changes (deploys) to the outcomes (incidents, firing alerts) that
 * followed them, and writes correlated alerts, in revisions, into the store's outbox. The
 * semantics, the score and the reasons are documented for users in docs/correlation.md.
 *
 * Two paths, both run inside the caller's transaction right after the event was stored:
 *  - outcome path: an incident or monitoring alert event is added to its outcome (table
 *    `outcomes`: an incident's lifecycle, or an alert's firing period), whose facts are the
 *    union of its events'. The outcome is concluded: look back `window` from its time for deploy
 *    events in the same environment related by service, shared host or artifact; group them into
 *    changes; keep the suspects (succeeded or still running), score and rank them. Its correlated
 *    alert (table `cases`) is its own, an open one of the same service with the same suspects
 *    within the group window, or a new one; a revision is published when the conclusion differs
 *    from the one published last (a new suspect, another top suspect, a join, open again), and a
 *    final one when its last open outcome is resolved.
 *  - deploy path: look forward `window` from the change's first event for outcome events already
 *    stored and conclude each of their outcomes again, marking new pairs late.
 *
 * Invariants:
 *  - No state beyond options, prepared statements, scratch buffers, one hint and one cache:
 *    every fact comes from the store, so a restart rebuilds nothing and re-delivery changes
 *    nothing. The hint is the highest outcome seq any pair was ever written for (read at start,
 *    raised on each insert): an outcome above it has no pairs, so its run skips one lookup per
 *    suspect. A rolled-back batch can only leave the hint too high, which costs lookups, never
 *    a pair. The cache holds recently loaded changes (direct-mapped, CCACHE_SLOTS): loading a
 *    change reads its rows from the table, the largest cost of an outcome once the candidate
 *    lookups read indexes only. A change only changes when a deploy event of it is stored,
 *    and every stored deploy passes through the deploy path, which drops the entry first; a
 *    transaction whose writes were discarded (lh__store_discards) drops the whole cache.
 *  - A change is all deploy events of one deploy_id in one environment: its time is its
 *    earliest event, its status its latest (by time, then seq), its other fields come from its
 *    latest event that has them.
 *  - A pair (outcome, change) is keyed by the outcome's first stored event (outcomes.first_seq)
 *    and holds the latest conclusion; its late flag is the one it was first concluded with.
 *  - An alert's id derives from its first outcome's key alone; revision n+1 is written only
 *    when the conclusion differs from revision n as published (decoded from the outbox), so
 *    replaying the same events publishes nothing.
 *  - Scratch memory (candidates, copied strings, reason text) lives for one event and is reused;
 *    only an alert allocates.
 */
#include "correlator.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator_sql.h"
#include "hash.h"
#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "score.h"

#define COMPONENT "correlator"
#define MAX_REASONS 8
#define MAX_HOSTS_NAMED 5
#define CHUNK_MIN 8192
#define CCACHE_SLOTS 4096 /* power of two */
/* Rows one candidate or outcome lookup reads at most, most recent first: an implausibly busy
 * window (thousands of deploys of one service) costs a bounded amount of work per event, and the
 * most recent changes are the best-scored ones of a relation. */
#define LOOKUP_LIMIT 512
/* Related changes above which a window counts as implausibly busy (a reason says so). */
#define BUSY_WINDOW 100

/* ---- scratch: strings that live until the next correlation run -------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t cap;
    size_t used;
    char data[];
} chunk_t;

typedef struct scratch {
    chunk_t *head;
    chunk_t *cur;
} scratch_t;

static void
scratch_reset(scratch_t *s)
{
    for (chunk_t *k = s->head; k; k = k->next)
        k->used = 0;
    s->cur = s->head;
}

static void
scratch_free(scratch_t *s)
{
    chunk_t *k = s->head;
    while (k) {
        chunk_t *next = k->next;
        free(k);
        k = next;
    }
    s->head = s->cur = NULL;
}

static void *
scratch_alloc(scratch_t *s, size_t n)
{
    n = (n + 7) & ~(size_t)7; /* every block 8-aligned: the scratch holds pointer arrays too */
    while (s->cur && s->cur->cap - s->cur->used < n && s->cur->next)
        s->cur = s->cur->next;
    if (!s->cur || s->cur->cap - s->cur->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        chunk_t *k = malloc(sizeof(*k) + cap);
        if (!k)
            return NULL;
        k->cap = cap;
        k->used = 0;
        /* insert after cur so reset order keeps every chunk reachable */
        if (s->cur) {
            k->next = s->cur->next;
            s->cur->next = k;
        } else {
            k->next = s->head;
            s->head = k;
        }
        s->cur = k;
    }
    void *p = s->cur->data + s->cur->used;
    s->cur->used += n;
    return p;
}

static char *
scratch_strndup(scratch_t *s, const char *p, size_t n)
{
    char *d = scratch_alloc(s, n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- types ---------------------------------------------------------------------------------- */

typedef struct change {
    const char *deploy_id;
    const char *event_id; /* the change's first event */
    int64_t first_seq;
    int64_t time;     /* earliest event */
    int status;       /* latest event */
    int prev_derived; /* previous_version was filled from history at ingest */
    const char *service, *actor, *hosts, *version, *previous_version, *commit, *artifact;
    int found;
    int rel;
    int is_new;
    int late;
    int64_t lead_ns;
    double score;
    const char *reasons[MAX_REASONS];
    size_t n_reasons;
} change_t;

struct lh_correlator {
    lh_store_t *st;
    sqlite3 *db;
    lh_correlator_opts_t o;
    sqlite3_stmt *stmt[LH_CSQL_COUNT];
    scratch_t scratch;
    change_t *chg;
    size_t n_chg, cap_chg;
    size_t n_show; /* gather(): the suspects an alert lists, at most o.max_suspects */
    size_t n_more; /* gather(): related changes left out of the alert */
    int truncated; /* collect() stopped at its limit */
    int64_t *oseq;
    size_t n_oseq, cap_oseq;
    lh_buf_t json;
    lh_buf_t pb;
    int64_t max_pair_oseq; /* no pair exists for a higher outcome seq (the hint above) */
    struct centry *cache;  /* CCACHE_SLOTS changes, or NULL when it could not be allocated */
    uint64_t cache_discards;
};

/* The string fields of a change that load_change() fills; a cached change keeps them in this
 * order (CHG_STR), after its key. */
static const size_t chg_str[] = {
    offsetof(change_t, event_id), offsetof(change_t, service),
    offsetof(change_t, actor),    offsetof(change_t, hosts),
    offsetof(change_t, version),  offsetof(change_t, previous_version),
    offsetof(change_t, commit),   offsetof(change_t, artifact),
};
#define CHG_STR (sizeof(chg_str) / sizeof(chg_str[0]))

static const char **
chg_field(change_t *ch, size_t i)
{
    return (const char **)(void *)((char *)ch + chg_str[i]);
}

/* A cached change: key (deploy_id, environment) and what load_change() fills, the strings in
 * one block the entry owns. */
typedef struct centry {
    uint64_t hash;
    char *block; /* NULL: empty slot */
    const char *deploy_id, *env;
    const char *str[CHG_STR]; /* NULL or into block */
    int64_t first_seq, time;
    int status, prev_derived;
} centry_t;

/* ---- SQLite helpers ------------------------------------------------------------------------- */

static const char *const stmt_names[LH_CSQL_COUNT] = {
    [LH_CSQL_CAND_SERVICE] = "deploys by service",
    [LH_CSQL_CAND_HOST] = "deploys by host",
    [LH_CSQL_CAND_ARTIFACT] = "deploys by artifact",
    [LH_CSQL_CHANGE] = "change events",
    [LH_CSQL_OUT_SERVICE] = "outcomes by service",
    [LH_CSQL_OUT_HOST] = "outcomes by host",
    [LH_CSQL_OUT_ARTIFACT] = "outcomes by artifact",
    [LH_CSQL_EVENT_BLOB] = "event payload",
    [LH_CSQL_PAIR_GET] = "correlation lookup",
    [LH_CSQL_PAIR_INSERT] = "correlation insert",
    [LH_CSQL_PAIR_MAX] = "highest correlated outcome",
    [LH_CSQL_PAIR_UPDATE] = "correlation update",
    [LH_CSQL_LAST_GOOD] = "last succeeded deploys",
    [LH_CSQL_OC_GET] = "outcome lookup",
    [LH_CSQL_OC_OPEN] = "open alert period",
    [LH_CSQL_OC_AT] = "alert period at a time",
    [LH_CSQL_OC_PUT] = "outcome write",
    [LH_CSQL_OC_UPDATE] = "outcome update",
    [LH_CSQL_CASE_GET] = "case lookup",
    [LH_CSQL_CASE_FIND] = "open case lookup",
    [LH_CSQL_CASE_PUT] = "case write",
    [LH_CSQL_CASE_UPDATE] = "case update",
    [LH_CSQL_CASE_OUTCOMES] = "case outcomes",
    [LH_CSQL_ALERT_LAST] = "published revision",
    [LH_CSQL_CASE_OPEN] = "open outcomes of a case",
    [LH_CSQL_COUNT_SERVICE] = "changes of a service",
};

/* Logs the connection's error once, resets the statement, returns LH_ESTORE. */
static int
sql_fail(lh_correlator_t *c, int which)
{
    lh_log(LH_LOG_ERROR, COMPONENT, "%s: %s", stmt_names[which], sqlite3_errmsg(c->db));
    sqlite3_reset(c->stmt[which]);
    sqlite3_clear_bindings(c->stmt[which]);
    return LH_ESTORE;
}

static void
sql_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Binds the (key, environment, from, to) quadruple shared by every lookup. */
static int
bind_lookup(sqlite3_stmt *s, const char *key, const char *env, int64_t from, int64_t to)
{
    int rc = bind_text(s, 1, key);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, env);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, from);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, to);
    return rc;
}

static int64_t
sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t
sat_sub(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* ---- options, lifecycle --------------------------------------------------------------------- */

void
lh_correlator_opts_default(lh_correlator_opts_t *o)
{
    o->window_ns = 2 * 3600 * LH_NS_PER_SEC;
    o->alert_min_severity = LH_SEV_ERROR;
    o->group_window_ns = 10 * 60 * LH_NS_PER_SEC;
    o->max_suspects = 10;
}

int
lh_correlator_new(lh_store_t *st, const lh_correlator_opts_t *o, lh_correlator_t **out)
{
    if (!out)
        return LH_EINVAL;
    *out = NULL;
    if (!st)
        return LH_EINVAL;
    lh_correlator_opts_t def;
    if (!o) {
        lh_correlator_opts_default(&def);
        o = &def;
    }
    if (o->window_ns <= 0 || o->group_window_ns < 0 || o->max_suspects < 1 ||
        o->max_suspects > 1000 || o->alert_min_severity < LH_SEV_UNSPECIFIED ||
        o->alert_min_severity > LH_SEV_CRITICAL) {
        lh_log(LH_LOG_ERROR, COMPONENT,
               "invalid options: window must be > 0, group window >= 0, max suspects 1..1000, "
               "severity known");
        return LH_EINVAL;
    }
    lh_correlator_t *c = calloc(1, sizeof(*c));
    if (!c)
        return LH_ENOMEM;
    c->st = st;
    c->db = lh__store_db(st);
    c->o = *o;
    c->cache = calloc(CCACHE_SLOTS, sizeof(*c->cache)); /* optional: NULL runs uncached */
    c->cache_discards = lh__store_discards(st);
    for (int i = 0; i < LH_CSQL_COUNT; i++) {
        int rc = sqlite3_prepare_v3(c->db, LH_CORR_SQL[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            lh_log(LH_LOG_ERROR, COMPONENT, "prepare %s: %s", stmt_names[i], sqlite3_errmsg(c->db));
            lh_correlator_destroy(&c);
            return rc == SQLITE_NOMEM ? LH_ENOMEM : LH_ESTORE;
        }
    }
    sqlite3_stmt *s = c->stmt[LH_CSQL_PAIR_MAX];
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        c->max_pair_oseq = sqlite3_column_int64(s, 0);
    sql_done(s);
    if (rc != SQLITE_ROW) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: %s", stmt_names[LH_CSQL_PAIR_MAX],
               sqlite3_errmsg(c->db));
        lh_correlator_destroy(&c);
        return LH_ESTORE;
    }
    *out = c;
    return 0;
}

void
lh_correlator_destroy(lh_correlator_t **cp)
{
    if (!cp || !*cp)
        return;
    lh_correlator_t *c = *cp;
    for (int i = 0; i < LH_CSQL_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    scratch_free(&c->scratch);
    free(c->chg);
    free(c->oseq);
    lh_buf_free(&c->json);
    lh_buf_free(&c->pb);
    if (c->cache)
        for (size_t i = 0; i < CCACHE_SLOTS; i++)
            free(c->cache[i].block);
    free(c->cache);
    free(c);
    *cp = NULL;
}

int
lh_correlator_is_outcome(const lh_correlator_t *c, const lh_event_t *ev)
{
    if (!c || !ev)
        return 0;
    switch (ev->kind) {
    case LH_KIND_INCIDENT:
        return ev->incident.state != LH_INCIDENT_RESOLVED;
    case LH_KIND_ALERT:
        /* an alert without a state is firing (lh_event_normalize) */
        return ev->alert.state != LH_ALERT_RESOLVED &&
               ev->alert.severity >= c->o.alert_min_severity;
    default:
        return 0;
    }
}

/* ---- candidate collection ------------------------------------------------------------------- */

static change_t *
chg_push(lh_correlator_t *c)
{
    if (c->n_chg == c->cap_chg) {
        size_t cap = c->cap_chg ? c->cap_chg * 2 : 16;
        change_t *p = realloc(c->chg, cap * sizeof(*p));
        if (!p)
            return NULL;
        c->chg = p;
        c->cap_chg = cap;
    }
    change_t *ch = &c->chg[c->n_chg++];
    memset(ch, 0, sizeof(*ch));
    return ch;
}

static int
oseq_push(lh_correlator_t *c, int64_t seq)
{
    if (c->n_oseq == c->cap_oseq) {
        size_t cap = c->cap_oseq ? c->cap_oseq * 2 : 16;
        int64_t *p = realloc(c->oseq, cap * sizeof(*p));
        if (!p)
            return LH_ENOMEM;
        c->oseq = p;
        c->cap_oseq = cap;
    }
    c->oseq[c->n_oseq++] = seq;
    return 0;
}

/* Row handlers of collect(): 0, or LH_ENOMEM. */
typedef int (*row_fn)(lh_correlator_t *c, sqlite3_stmt *s);

/* A candidate lookup's row: its deploy_id becomes a candidate change. */
static int
add_change(lh_correlator_t *c, sqlite3_stmt *s)
{
    const char *id = (const char *)sqlite3_column_text(s, 0);
    if (!id)
        return 0;
    change_t *ch = chg_push(c);
    if (!ch ||
        !(ch->deploy_id = scratch_strndup(&c->scratch, id, (size_t)sqlite3_column_bytes(s, 0))))
        return LH_ENOMEM;
    return 0;
}

/* An outcome lookup's row: the outcome's seq. */
static int
add_outcome(lh_correlator_t *c, sqlite3_stmt *s)
{
    return oseq_push(c, sqlite3_column_int64(s, 0));
}

/* Runs lookup `which` for (key, env, [from, to]) and hands each row to add. */
static int
collect(lh_correlator_t *c, int which, const char *key, const char *env, int64_t from, int64_t to,
        row_fn add)
{
    sqlite3_stmt *s = c->stmt[which];
    if (bind_lookup(s, key, env, from, to) != SQLITE_OK ||
        sqlite3_bind_int(s, 5, LOOKUP_LIMIT) != SQLITE_OK)
        return sql_fail(c, which);
    int rc, rows = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        rows++;
        if (add(c, s) < 0) {
            sql_done(s);
            return LH_ENOMEM;
        }
    }
    if (rc != SQLITE_DONE)
        return sql_fail(c, which);
    sql_done(s);
    if (rows >= LOOKUP_LIMIT)
        c->truncated = 1;
    return 0;
}

/* Copies column col into *dst when it is not NULL (the latest value wins). */
static int
take_text(lh_correlator_t *c, sqlite3_stmt *s, int col, const char **dst)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (!v || !*v)
        return 0;
    *dst = scratch_strndup(&c->scratch, v, (size_t)sqlite3_column_bytes(s, col));
    return *dst ? 0 : LH_ENOMEM;
}

/* ---- change cache --------------------------------------------------------------------------- */

static uint64_t
centry_hash(const char *deploy_id, const char *env)
{
    uint64_t h = lh__hash64_update(LH__HASH64_SEED, deploy_id, strlen(deploy_id) + 1);
    /* NULL and "" are different environments */
    h = env ? lh__hash64_update(h, env, strlen(env) + 1) : lh__hash64_update(h, "\xff", 1);
    return lh__hash64_final(h);
}

static centry_t *
centry_find(lh_correlator_t *c, uint64_t h, const char *deploy_id, const char *env)
{
    if (!c->cache)
        return NULL;
    centry_t *e = &c->cache[h & (CCACHE_SLOTS - 1)];
    if (!e->block || e->hash != h || strcmp(e->deploy_id, deploy_id) != 0)
        return NULL;
    if (env ? !e->env || strcmp(e->env, env) != 0 : e->env != NULL)
        return NULL;
    return e;
}

static void
centry_clear(centry_t *e)
{
    free(e->block);
    memset(e, 0, sizeof(*e));
}

static void
cache_drop(lh_correlator_t *c, const char *deploy_id, const char *env)
{
    centry_t *e = centry_find(c, centry_hash(deploy_id, env), deploy_id, env);
    if (e)
        centry_clear(e);
}

static void
cache_check_discards(lh_correlator_t *c)
{
    uint64_t d = lh__store_discards(c->st);
    if (d == c->cache_discards)
        return;
    c->cache_discards = d;
    if (c->cache)
        for (size_t i = 0; i < CCACHE_SLOTS; i++)
            centry_clear(&c->cache[i]);
}

/* Copies a change just loaded into its slot (evicting what was there). Best effort: without
 * memory the change is simply not cached. */
static void
cache_put(lh_correlator_t *c, uint64_t h, change_t *ch, const char *env)
{
    if (!c->cache)
        return;
    const char *src[2 + CHG_STR] = {ch->deploy_id, env};
    for (size_t i = 0; i < CHG_STR; i++)
        src[2 + i] = *chg_field(ch, i);
    size_t len[2 + CHG_STR], total = 1;
    for (size_t i = 0; i < 2 + CHG_STR; i++)
        total += len[i] = src[i] ? strlen(src[i]) + 1 : 0;
    char *block = malloc(total);
    if (!block)
        return;
    centry_t *e = &c->cache[h & (CCACHE_SLOTS - 1)];
    centry_clear(e);
    const char *dst[2 + CHG_STR];
    char *p = block;
    for (size_t i = 0; i < 2 + CHG_STR; i++) {
        dst[i] = src[i] ? memcpy(p, src[i], len[i]) : NULL;
        p += len[i];
    }
    e->hash = h;
    e->block = block;
    e->deploy_id = dst[0];
    e->env = dst[1];
    memcpy(e->str, dst + 2, sizeof(e->str));
    e->first_seq = ch->first_seq;
    e->time = ch->time;
    e->status = ch->status;
    e->prev_derived = ch->prev_derived;
}

/* Fills ch from a cached change; its strings are copied to the scratch, which outlives any
 * eviction during this run. */
static int
cache_take(lh_correlator_t *c, change_t *ch, const centry_t *e)
{
    for (size_t i = 0; i < CHG_STR; i++) {
        const char *v = e->str[i];
        const char **to = chg_field(ch, i);
        *to = v ? scratch_strndup(&c->scratch, v, strlen(v)) : NULL;
        if (v && !*to)
            return LH_ENOMEM;
    }
    ch->found = 1;
    ch->first_seq = e->first_seq;
    ch->time = e->time;
    ch->status = e->status;
    ch->prev_derived = e->prev_derived;
    return 0;
}

/* Fills ch from all events of its deploy_id in env. ch->found says whether there was one. */
static int
load_change(lh_correlator_t *c, change_t *ch, const char *env)
{
    uint64_t h = centry_hash(ch->deploy_id, env);
    const centry_t *e = centry_find(c, h, ch->deploy_id, env);
    if (e)
        return cache_take(c, ch, e);
    sqlite3_stmt *s = c->stmt[LH_CSQL_CHANGE];
    if (bind_text(s, 1, ch->deploy_id) != SQLITE_OK || bind_text(s, 2, env) != SQLITE_OK)
        return sql_fail(c, LH_CSQL_CHANGE);
    int rc, err = 0;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!ch->found) {
            ch->found = 1;
            ch->first_seq = sqlite3_column_int64(s, LH_CCOL_SEQ);
            ch->time = sqlite3_column_int64(s, LH_CCOL_TIME);
            err = take_text(c, s, LH_CCOL_ID, &ch->event_id);
        }
        ch->status = sqlite3_column_int(s, LH_CCOL_STATE);
        if (!err)
            err = take_text(c, s, LH_CCOL_SERVICE, &ch->service);
        if (!err)
            err = take_text(c, s, LH_CCOL_ACTOR, &ch->actor);
        if (!err)
            err = take_text(c, s, LH_CCOL_HOSTS, &ch->hosts);
        if (!err)
            err = take_text(c, s, LH_CCOL_VERSION, &ch->version);
        if (!err && sqlite3_column_type(s, LH_CCOL_PREVIOUS) != SQLITE_NULL) {
            err = take_text(c, s, LH_CCOL_PREVIOUS, &ch->previous_version);
            ch->prev_derived = sqlite3_column_int(s, LH_CCOL_PREV_DERIVED);
        }
        if (!err)
            err = take_text(c, s, LH_CCOL_COMMIT, &ch->commit);
        if (!err)
            err = take_text(c, s, LH_CCOL_ARTIFACT, &ch->artifact);
    }
    if (err) {
        sql_done(s);
        return err;
    }
    if (rc != SQLITE_DONE)
        return sql_fail(c, LH_CSQL_CHANGE);
    sql_done(s);
    if (ch->found)
        cache_put(c, h, ch, env);
    return 0;
}

/* A change is a suspect while it succeeded or is still running (no status means succeeded). */
static int
is_suspect_status(int status)
{
    return status == LH_DEPLOY_STARTED || status == LH_DEPLOY_SUCCEEDED ||
           status == LH_DEPLOY_UNSPECIFIED;
}

/* Iterates the space-separated host list: returns the next token and its length, or NULL. */
static const char *
next_host(const char **p, size_t *len)
{
    const char *s = *p;
    if (!s)
        return NULL;
    while (*s == ' ')
        s++;
    if (!*s)
        return NULL;
    const char *e = s;
    while (*e && *e != ' ')
        e++;
    *len = (size_t)(e - s);
    *p = e;
    return s;
}

static int
hosts_contain(const char *hosts, const char *h)
{
    size_t n, hl = strlen(h);
    const char *p = hosts, *t;
    while ((t = next_host(&p, &n)))
        if (n == hl && memcmp(t, h, n) == 0)
            return 1;
    return 0;
}

/* ---- reasons and score ---------------------------------------------------------------------- */

static const char *sfmt(scratch_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *
sfmt(scratch_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = scratch_alloc(s, (size_t)n + 1);
    if (!d)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

static int
add_reason(change_t *ch, const char *r)
{
    if (!r)
        return LH_ENOMEM;
    if (ch->n_reasons < MAX_REASONS)
        ch->reasons[ch->n_reasons++] = r;
    return 0;
}

/* "web-1, web-2" for the outcome's hosts that the change also ran on; NULL when none. */
static const char *
shared_hosts(lh_correlator_t *c, const lh_event_t *o, const char *hosts, size_t *count, int *err)
{
    *count = 0;
    *err = 0;
    if (!hosts)
        return NULL;
    lh_buf_t *b = &c->json; /* free until the reasons are encoded */
    lh_buf_reset(b);
    for (size_t i = 0; i < o->n_hosts; i++) {
        const char *h = o->hosts[i];
        if (!h || !hosts_contain(hosts, h))
            continue;
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            if (o->hosts[j] && strcmp(o->hosts[j], h) == 0)
                dup = 1;
        if (dup)
            continue;
        if (*count < MAX_HOSTS_NAMED && lh_buf_printf(b, "%s%s", *count ? ", " : "", h) < 0) {
            *err = LH_ENOMEM;
            return NULL;
        }
        (*count)++;
    }
    if (!*count)
        return NULL;
    if (*count > MAX_HOSTS_NAMED &&
        lh_buf_printf(b, " and %zu more", *count - MAX_HOSTS_NAMED) < 0) {
        *err = LH_ENOMEM;
        return NULL;
    }
    const char *r = scratch_strndup(&c->scratch, (const char *)b->data, b->len);
    if (!r)
        *err = LH_ENOMEM;
    return r;
}

static const char *
outcome_artifact(const lh_event_t *o)
{
    return o->kind == LH_KIND_INCIDENT ? o->incident.artifact : o->alert.artifact;
}

/* Decides the relation, the score and the reasons of ch for outcome o. Returns 0 (ch->rel == 0
 * when the change is not related after all) or LH_ENOMEM. */
static int
assess(lh_correlator_t *c, const lh_event_t *o, change_t *ch)
{
    scratch_t *s = &c->scratch;
    const char *noun = o->kind == LH_KIND_INCIDENT ? "incident" : "alert";
    const char *artifact = outcome_artifact(o);
    size_t n_shared;
    int err;
    const char *shared = shared_hosts(c, o, ch->hosts, &n_shared, &err);
    if (err)
        return err;

    ch->rel = 0;
    if (artifact && ch->artifact && strcmp(artifact, ch->artifact) == 0)
        ch->rel |= LH__REL_ARTIFACT;
    if (o->service && ch->service && strcmp(o->service, ch->service) == 0)
        ch->rel |= LH__REL_SERVICE;
    if (shared)
        ch->rel |= LH__REL_HOSTS;
    if (!ch->rel)
        return 0;

    ch->lead_ns = o->time_ns - ch->time;
    ch->score = lh__score(ch->rel, ch->lead_ns, c->o.window_ns);

    ch->n_reasons = 0;
    int rc = 0;
    if (ch->rel & LH__REL_ARTIFACT)
        rc = add_reason(
            ch, sfmt(s, "the %s names artifact %s, which this change shipped", noun, artifact));
    if (!rc && (ch->rel & LH__REL_SERVICE))
        rc = add_reason(ch, o->environment ? sfmt(s, "same service and environment (%s in %s)",
                                                  o->service, o->environment)
                                           : sfmt(s, "same service (%s)", o->service));
    if (!rc && !(ch->rel & (LH__REL_ARTIFACT | LH__REL_SERVICE)))
        rc = add_reason(ch, sfmt(s, "shares host%s %s with the %s (service %s)",
                                 n_shared > 1 ? "s" : "", shared, noun,
                                 ch->service ? ch->service : "unknown"));
    if (!rc) {
        char d[32];
        if (ch->lead_ns < LH_NS_PER_SEC || lh_duration_human(ch->lead_ns, d, sizeof(d)) < 0)
            rc =
                add_reason(ch, sfmt(s, "%s as the %s began",
                                    ch->status == LH_DEPLOY_STARTED ? "started at the same moment"
                                                                    : "deployed at the same moment",
                                    noun));
        else
            rc = add_reason(ch, sfmt(s, "%s %s before the %s",
                                     ch->status == LH_DEPLOY_STARTED ? "started" : "deployed", d,
                                     noun));
    }
    if (!rc && ch->status == LH_DEPLOY_STARTED)
        rc = add_reason(ch, sfmt(s, "still deploying when the %s began", noun));
    if (!rc && (ch->rel & LH__REL_HOSTS) && (ch->rel & (LH__REL_ARTIFACT | LH__REL_SERVICE)))
        rc = add_reason(ch, sfmt(s, "shares host%s %s", n_shared > 1 ? "s" : "", shared));
    if (!rc && ch->late)
        rc = add_reason(ch, sfmt(s, "arrived after the %s (late data)", noun));
    return rc;
}

static int
cmp_deploy_id(const void *a, const void *b)
{
    const change_t *x = a, *y = b;
    return strcmp(x->deploy_id, y->deploy_id);
}

static int
cmp_rank(const void *a, const void *b)
{
    const change_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->lead_ns != y->lead_ns)
        return x->lead_ns < y->lead_ns ? -1 : 1;
    return strcmp(x->deploy_id, y->deploy_id);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- pairs ---------------------------------------------------------------------------------- */

/* Sets ch->is_new and, for a known pair, ch->late as concluded then. */
static int
pair_lookup(lh_correlator_t *c, int64_t oseq, change_t *ch, int late)
{
    if (oseq > c->max_pair_oseq) {
        ch->is_new = 1;
        ch->late = late;
        return 0;
    }
    sqlite3_stmt *s = c->stmt[LH_CSQL_PAIR_GET];
    if (sqlite3_bind_int64(s, 1, oseq) != SQLITE_OK || bind_text(s, 2, ch->deploy_id) != SQLITE_OK)
        return sql_fail(c, LH_CSQL_PAIR_GET);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        ch->is_new = 0;
        ch->late = sqlite3_column_int(s, 0);
    } else if (rc == SQLITE_DONE) {
        ch->is_new = 1;
        ch->late = late;
    } else {
        return sql_fail(c, LH_CSQL_PAIR_GET);
    }
    sql_done(s);
    return 0;
}

/* Appends s to b as a JSON string. */
static int
json_string(lh_buf_t *b, const char *str)
{
    if (lh_buf_append(b, "\"", 1) < 0)
        return LH_ENOMEM;
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        int rc;
        switch (*p) {
        case '"':
            rc = lh_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            rc = lh_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            rc = lh_buf_append(b, "\\n", 2);
            break;
        case '\t':
            rc = lh_buf_append(b, "\\t", 2);
            break;
        default:
            rc = *p < 0x20 ? lh_buf_printf(b, "\\u%04x", *p) : lh_buf_append(b, p, 1);
        }
        if (rc < 0)
            return LH_ENOMEM;
    }
    return lh_buf_append(b, "\"", 1) < 0 ? LH_ENOMEM : 0;
}

/* Writes the pair's latest conclusion: a new pair is inserted, a known one updated (its late
 * flag stays what it was concluded with). */
static int
pair_write(lh_correlator_t *c, int64_t oseq, const change_t *ch, int rank, int64_t now_ns,
           int64_t aseq)
{
    lh_buf_t *b = &c->json;
    lh_buf_reset(b);
    if (lh_buf_append(b, "[", 1) < 0)
        return LH_ENOMEM;
    for (size_t i = 0; i < ch->n_reasons; i++) {
        if ((i && lh_buf_append(b, ",", 1) < 0) || json_string(b, ch->reasons[i]) < 0)
            return LH_ENOMEM;
    }
    if (lh_buf_append(b, "]", 1) < 0)
        return LH_ENOMEM;
    const char *reasons = (const char *)b->data;
    int rlen = (int)b->len;
    int64_t lead = ch->lead_ns / LH_NS_PER_SEC;

    int which = ch->is_new ? LH_CSQL_PAIR_INSERT : LH_CSQL_PAIR_UPDATE;
    sqlite3_stmt *s = c->stmt[which];
    int rc;
    if (ch->is_new)
        rc = sqlite3_bind_int64(s, 1, oseq) || bind_text(s, 2, ch->deploy_id) ||
             sqlite3_bind_int64(s, 3, ch->first_seq) || sqlite3_bind_double(s, 4, ch->score) ||
             sqlite3_bind_int(s, 5, rank) || sqlite3_bind_int64(s, 6, lead) ||
             sqlite3_bind_text(s, 7, reasons, rlen, SQLITE_STATIC) ||
             sqlite3_bind_int(s, 8, ch->late) || sqlite3_bind_int64(s, 9, now_ns) ||
             (aseq ? sqlite3_bind_int64(s, 10, aseq) : sqlite3_bind_null(s, 10));
    else
        rc = sqlite3_bind_int64(s, 1, oseq) || bind_text(s, 2, ch->deploy_id) ||
             sqlite3_bind_double(s, 3, ch->score) || sqlite3_bind_int(s, 4, rank) ||
             sqlite3_bind_int64(s, 5, lead) ||
             sqlite3_bind_text(s, 6, reasons, rlen, SQLITE_STATIC) ||
             (aseq ? sqlite3_bind_int64(s, 7, aseq) : sqlite3_bind_null(s, 7));
    if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        return sql_fail(c, which);
    sql_done(s);
    if (oseq > c->max_pair_oseq)
        c->max_pair_oseq = oseq;
    return 0;
}

/* Decodes the stored canonical protobuf of the event at seq into *out. */
static int
load_event(lh_correlator_t *c, int64_t seq, lh_event_t **out)
{
    *out = NULL;
    sqlite3_stmt *s = c->stmt[LH_CSQL_EVENT_BLOB];
    if (sqlite3_bind_int64(s, 1, seq) != SQLITE_OK)
        return sql_fail(c, LH_CSQL_EVENT_BLOB);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sql_done(s);
        lh_log(LH_LOG_ERROR, COMPONENT, "event seq %lld is not in the store", (long long)seq);
        return LH_ENOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return sql_fail(c, LH_CSQL_EVENT_BLOB);
    const void *blob = sqlite3_column_blob(s, 0);
    size_t len = (size_t)sqlite3_column_bytes(s, 0);
    char why[160] = "";
    int err = lh_codec_pb_decode(blob ? blob : "", len, out, why, sizeof(why));
    sql_done(s);
    if (err < 0) {
        lh_log_ratelimited("correlator-decode", LH_LOG_ERROR, COMPONENT,
                           "stored event seq %lld does not decode: %s", (long long)seq, why);
        *out = NULL;
        return err;
    }
    return 0;
}

static int
dup_str(char **dst, const char *s)
{
    *dst = NULL;
    if (!s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : LH_ENOMEM;
}

/* ---- history: the last version known good ----------------------------------------------- */

/* The version of the last change of service in env before `before` (other than skip) whose
 * latest status is succeeded: what ran before a change. *out points into the scratch, NULL when
 * the store knows none. */
static int
last_good(lh_correlator_t *c, const char *service, const char *env, int64_t before,
          const char *skip, const char **out)
{
    *out = NULL;
    if (!service)
        return 0;
    sqlite3_stmt *s = c->stmt[LH_CSQL_LAST_GOOD];
    if (bind_text(s, 1, service) != SQLITE_OK || bind_text(s, 2, env) != SQLITE_OK ||
        sqlite3_bind_int64(s, 3, before) != SQLITE_OK || bind_text(s, 4, skip) != SQLITE_OK)
        return sql_fail(c, LH_CSQL_LAST_GOOD);
    /* the rows first (load_change runs another statement); at most LIMIT 16 of them */
    const char *ids[16];
    size_t n = 0;
    int rc;
    while (n < 16 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!id)
            continue;
        if (!(ids[n++] = scratch_strndup(&c->scratch, id, (size_t)sqlite3_column_bytes(s, 0)))) {
            sql_done(s);
            return LH_ENOMEM;
        }
    }
    if (n < 16 && rc != SQLITE_DONE)
        return sql_fail(c, LH_CSQL_LAST_GOOD);
    sql_done(s);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(ids[i], ids[i - 1]) == 0)
            continue;
        change_t ch = {.deploy_id = ids[i]};
        if ((rc = load_change(c, &ch, env)) < 0)
            return rc;
        /* a change rolled back or failed later is not what ran */
        if (ch.found && ch.status == LH_DEPLOY_SUCCEEDED && ch.version) {
            *out = ch.version;
            return 0;
        }
    }
    return 0;
}

/* ---- outcomes ------------------------------------------------------------------------------- */

/* One outcome (table `outcomes`): an incident's lifecycle, or one firing period of a monitoring
 * alert. Strings point into the scratch. */
typedef struct outcome {
    const char *okey, *ref, *service, *env, *event_id, *title, *hosts, *artifact, *case_id;
    int kind;
    int64_t time, first_seq, resolved;
    int open;
    int found;
} outcome_t;

/* A column as a scratch string, NULL when NULL. */
static int
col_text(lh_correlator_t *c, sqlite3_stmt *s, int col, const char **dst)
{
    *dst = NULL;
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (!v)
        return 0;
    *dst = scratch_strndup(&c->scratch, v, (size_t)sqlite3_column_bytes(s, col));
    return *dst ? 0 : LH_ENOMEM;
}

static int
oc_row(lh_correlator_t *c, sqlite3_stmt *s, outcome_t *oc)
{
    memset(oc, 0, sizeof(*oc));
    oc->found = 1;
    oc->kind = sqlite3_column_int(s, LH_OCOL_KIND);
    oc->time = sqlite3_column_int64(s, LH_OCOL_TIME);
    oc->first_seq = sqlite3_column_int64(s, LH_OCOL_FIRST_SEQ);
    oc->open = sqlite3_column_int(s, LH_OCOL_OPEN);
    oc->resolved = sqlite3_column_int64(s, LH_OCOL_RESOLVED);
    int rc = col_text(c, s, LH_OCOL_OKEY, &oc->okey);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_REF, &oc->ref);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_SERVICE, &oc->service);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_ENV, &oc->env);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_EVENT_ID, &oc->event_id);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_TITLE, &oc->title);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_HOSTS, &oc->hosts);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_ARTIFACT, &oc->artifact);
    if (!rc)
        rc = col_text(c, s, LH_OCOL_CASE, &oc->case_id);
    return rc;
}

/* Reads one outcome row with statement which (LH_CSQL_OC_GET: an incident's, LH_CSQL_OC_OPEN: an
 * alert's newest period, LH_CSQL_OC_AT: its period at time t) of ref in env; oc->found says
 * whether there was one. */
static int
oc_read(lh_correlator_t *c, int which, const char *ref, const char *env, int64_t t, outcome_t *oc)
{
    memset(oc, 0, sizeof(*oc));
    sqlite3_stmt *s = c->stmt[which];
    if (bind_text(s, 1, ref) != SQLITE_OK || bind_text(s, 2, env) != SQLITE_OK ||
        (which == LH_CSQL_OC_AT && sqlite3_bind_int64(s, 3, t) != SQLITE_OK))
        return sql_fail(c, which);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        rc = oc_row(c, s, oc);
        sql_done(s);
        return rc;
    }
    if (rc != SQLITE_DONE)
        return sql_fail(c, which);
    sql_done(s);
    return 0;
}

/* Writes the outcome: a new row, or the known row's new state. */
static int
oc_put(lh_correlator_t *c, outcome_t *oc)
{
    int which = oc->found ? LH_CSQL_OC_UPDATE : LH_CSQL_OC_PUT;
    sqlite3_stmt *s = c->stmt[which];
    int rc = bind_text(s, 1, oc->okey) || sqlite3_bind_int(s, 2, oc->kind) ||
             bind_text(s, 3, oc->ref) || bind_text(s, 4, oc->service) || bind_text(s, 5, oc->env) ||
             sqlite3_bind_int64(s, 6, oc->time) || sqlite3_bind_int64(s, 7, oc->first_seq) ||
             bind_text(s, 8, oc->event_id) || bind_text(s, 9, oc->title) ||
             bind_text(s, 10, oc->hosts) || bind_text(s, 11, oc->artifact) ||
             sqlite3_bind_int(s, 12, oc->open) ||
             (oc->open ? sqlite3_bind_null(s, 13) : sqlite3_bind_int64(s, 13, oc->resolved)) ||
             bind_text(s, 14, oc->case_id);
    if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        return sql_fail(c, which);
    sql_done(s);
    oc->found = 1;
    return 0;
}

static const char *
okey_incident(lh_correlator_t *c, const char *env, const char *incident_id)
{
    return sfmt(&c->scratch, "incident\x1f%s\x1f%s", env ? env : "", incident_id);
}

/* What names a monitoring alert across its notifications: its fingerprint, else its name. */
static const char *
alert_ref(const lh_event_t *ev)
{
    return ev->alert.fingerprint ? ev->alert.fingerprint : ev->alert.name;
}

/* The outcome an outcome event of the store belongs to: its incident's, or the firing period
 * of its alert at its time (oc->found 0: none recorded). */
static int
oc_of(lh_correlator_t *c, const lh_event_t *ev, outcome_t *oc)
{
    memset(oc, 0, sizeof(*oc));
    if (ev->kind == LH_KIND_INCIDENT && ev->incident.incident_id)
        return oc_read(c, LH_CSQL_OC_GET, ev->incident.incident_id, ev->environment, 0, oc);
    const char *ref = ev->kind == LH_KIND_ALERT ? alert_ref(ev) : NULL;
    return ref ? oc_read(c, LH_CSQL_OC_AT, ref, ev->environment, ev->time_ns, oc) : 0;
}

/* hosts with the hosts of ev added (each once, MAX_OUTCOME_HOSTS at most). */
#define MAX_OUTCOME_HOSTS 64
static const char *
hosts_union(lh_correlator_t *c, const char *hosts, const lh_event_t *ev, int *err)
{
    *err = 0;
    lh_buf_t *b = &c->json;
    lh_buf_reset(b);
    size_t n = 0, len;
    const char *p = hosts, *t;
    while ((t = next_host(&p, &len))) {
        if (lh_buf_printf(b, "%s%.*s", n ? " " : "", (int)len, t) < 0)
            goto nomem;
        n++;
    }
    size_t before = n;
    for (size_t i = 0; i < ev->n_hosts && n < MAX_OUTCOME_HOSTS; i++) {
        const char *h = ev->hosts[i];
        if (!h || !*h || strchr(h, ' '))
            continue;
        if (lh_buf_append(b, "", 1) < 0) /* terminate for hosts_contain, then drop it */
            goto nomem;
        b->len--;
        if (hosts_contain((const char *)b->data, h))
            continue;
        if (lh_buf_printf(b, "%s%s", n ? " " : "", h) < 0)
            goto nomem;
        n++;
    }
    if (n == before)
        return hosts;
    const char *r = scratch_strndup(&c->scratch, (const char *)b->data, b->len);
    if (!r)
        goto nomem;
    return r;
nomem:
    *err = LH_ENOMEM;
    return NULL;
}

/* The outcome as an event for assess(): its first time, service, every host, its artifact. */
static int
oc_as_event(lh_correlator_t *c, const outcome_t *oc, lh_event_t *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = (lh_kind_t)oc->kind;
    o->id = (char *)oc->event_id;
    o->service = (char *)oc->service;
    o->environment = (char *)oc->env;
    o->time_ns = oc->time;
    if (oc->kind == LH_KIND_INCIDENT)
        o->incident.artifact = (char *)oc->artifact;
    else
        o->alert.artifact = (char *)oc->artifact;
    size_t n = 0, len;
    const char *p = oc->hosts, *t;
    while (next_host(&p, &len))
        n++;
    if (!n)
        return 0;
    char **v = scratch_alloc(&c->scratch, n * sizeof(char *));
    if (!v)
        return LH_ENOMEM;
    p = oc->hosts;
    for (size_t i = 0; i < n && (t = next_host(&p, &len)); i++)
        if (!(v[i] = scratch_strndup(&c->scratch, t, len)))
            return LH_ENOMEM;
    o->hosts = v;
    o->n_hosts = n;
    return 0;
}

/* "incident INC-1 (5xx spike)" / "alert HighErrorRate (fingerprint c0ffee)" */
static const char *
oc_phrase(lh_correlator_t *c, const outcome_t *oc)
{
    if (oc->kind == LH_KIND_INCIDENT)
        return oc->title ? sfmt(&c->scratch, "incident %s (%s)", oc->ref, oc->title)
                         : sfmt(&c->scratch, "incident %s", oc->ref);
    if (oc->title && strcmp(oc->title, oc->ref) != 0)
        return sfmt(&c->scratch, "alert %s (fingerprint %s)", oc->title, oc->ref);
    return sfmt(&c->scratch, "alert %s", oc->ref);
}

/* ---- suspects ------------------------------------------------------------------------------- */

/* Finds the suspects of outcome o (recorded at oseq) and ranks them into c->chg. late marks
 * pairs concluded now as late. Returns their number or an error. */
static int
gather(lh_correlator_t *c, const lh_event_t *o, int64_t oseq, int late)
{
    c->n_chg = c->n_show = c->n_more = 0;
    c->truncated = 0;
    const int64_t t = o->time_ns, from = sat_sub(t, c->o.window_ns);
    const char *env = o->environment, *artifact = outcome_artifact(o);
    int rc = 0;

    if (o->service)
        rc = collect(c, LH_CSQL_CAND_SERVICE, o->service, env, from, t, add_change);
    for (size_t i = 0; !rc && i < o->n_hosts; i++)
        if (o->hosts[i])
            rc = collect(c, LH_CSQL_CAND_HOST, o->hosts[i], env, from, t, add_change);
    if (!rc && artifact)
        rc = collect(c, LH_CSQL_CAND_ARTIFACT, artifact, env, from, t, add_change);
    if (rc < 0)
        return rc;
    if (!c->n_chg)
        return 0;

    /* one candidate per deploy_id, then keep the related suspects */
    qsort(c->chg, c->n_chg, sizeof(*c->chg), cmp_deploy_id);
    size_t n = 0;
    for (size_t i = 0; i < c->n_chg; i++) {
        if (i && strcmp(c->chg[i].deploy_id, c->chg[i - 1].deploy_id) == 0)
            continue;
        change_t ch = c->chg[i];
        if ((rc = load_change(c, &ch, env)) < 0)
            return rc;
        if (!ch.found || ch.time < from || ch.time > t || !is_suspect_status(ch.status))
            continue;
        if ((rc = pair_lookup(c, oseq, &ch, late)) < 0)
            return rc;
        if ((rc = assess(c, o, &ch)) < 0)
            return rc;
        if (!ch.rel)
            continue;
        c->chg[n++] = ch;
    }
    c->n_chg = n;
    qsort(c->chg, c->n_chg, sizeof(*c->chg), cmp_rank);
    c->n_show = n < (size_t)c->o.max_suspects ? n : (size_t)c->o.max_suspects;
    size_t related = n;
    if (c->truncated && o->service) {
        /* the lookups stopped at their limit: count what the window holds of the service */
        sqlite3_stmt *s = c->stmt[LH_CSQL_COUNT_SERVICE];
        if (bind_lookup(s, o->service, env, from, t) != SQLITE_OK)
            return sql_fail(c, LH_CSQL_COUNT_SERVICE);
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            return sql_fail(c, LH_CSQL_COUNT_SERVICE);
        size_t all = (size_t)sqlite3_column_int64(s, 0);
        sql_done(s);
        if (all > related)
            related = all;
    }
    c->n_more = related - c->n_show;
    if (related > BUSY_WINDOW && c->n_show) {
        /* so many changes at once that timing and relation cannot tell them apart well */
        const char *r = sfmt(&c->scratch,
                             "one of %zu related changes in the window: an unusually busy one, "
                             "so this ranking is weak",
                             related);
        for (size_t i = 0; i < c->n_show; i++) {
            change_t *ch = &c->chg[i];
            if (!r)
                return LH_ENOMEM;
            if (ch->n_reasons < MAX_REASONS)
                ch->reasons[ch->n_reasons++] = r;
        }
    }
    return (int)n;
}

static int
cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Hash of the suspects' sorted deploy ids: equal keys, same changes. */
static const char *
suspect_key(lh_correlator_t *c)
{
    const char **ids = scratch_alloc(&c->scratch, c->n_show * sizeof(char *));
    if (!ids)
        return NULL;
    for (size_t i = 0; i < c->n_show; i++)
        ids[i] = c->chg[i].deploy_id;
    qsort(ids, c->n_show, sizeof(*ids), cmp_str_ptr);
    uint64_t h = LH__HASH64_SEED;
    for (size_t i = 0; i < c->n_show; i++)
        h = lh__hash64_update(h, ids[i], strlen(ids[i]) + 1);
    return sfmt(&c->scratch, "%016llx", (unsigned long long)lh__hash64_final(h));
}

/* ---- cases: one correlated alert, in revisions ------------------------------------------- */

typedef struct kase {
    const char *id, *service, *env, *top, *key;
    int kind, late, resolved, found;
    int64_t time, last_time;
    int revision;
} kase_t;

static int
case_get(lh_correlator_t *c, const char *id, kase_t *k)
{
    memset(k, 0, sizeof(*k));
    k->id = id;
    sqlite3_stmt *s = c->stmt[LH_CSQL_CASE_GET];
    if (bind_text(s, 1, id) != SQLITE_OK)
        return sql_fail(c, LH_CSQL_CASE_GET);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sql_done(s);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return sql_fail(c, LH_CSQL_CASE_GET);
    k->found = 1;
    k->kind = sqlite3_column_int(s, LH_KCOL_KIND);
    k->time = sqlite3_column_int64(s, LH_KCOL_TIME);
    k->last_time = sqlite3_column_int64(s, LH_KCOL_LAST_TIME);
    k->revision = sqlite3_column_int(s, LH_KCOL_REVISION);
    k->late = sqlite3_column_int(s, LH_KCOL_LATE);
    k->resolved = sqlite3_column_int(s, LH_KCOL_RESOLVED);
    rc = col_text(c, s, LH_KCOL_SERVICE, &k->service);
    if (!rc)
        rc = col_text(c, s, LH_KCOL_ENV, &k->env);
    if (!rc)
        rc = col_text(c, s, LH_KCOL_TOP, &k->top);
    if (!rc)
        rc = col_text(c, s, LH_KCOL_KEY, &k->key);
    sql_done(s);
    return rc;
}

static int
case_put(lh_correlator_t *c, kase_t *k)
{
    int which = k->found ? LH_CSQL_CASE_UPDATE : LH_CSQL_CASE_PUT;
    sqlite3_stmt *s = c->stmt[which];
    int rc = bind_text(s, 1, k->id) || sqlite3_bind_int(s, 2, k->kind) ||
             bind_text(s, 3, k->service) || bind_text(s, 4, k->env) ||
             sqlite3_bind_int64(s, 5, k->time) || sqlite3_bind_int64(s, 6, k->last_time) ||
             sqlite3_bind_int(s, 7, k->revision) || bind_text(s, 8, k->top) ||
             bind_text(s, 9, k->key ? k->key : "") || sqlite3_bind_int(s, 10, k->late) ||
             sqlite3_bind_int(s, 11, k->resolved);
    if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        return sql_fail(c, which);
    sql_done(s);
    k->found = 1;
    return 0;
}

/* The revision of alert id as published (decoded), with its outbox seq. *out NULL when there is
 * none or it does not decode (logged). */
static int
alert_load(lh_correlator_t *c, const char *id, int revision, lh_correlated_t **out, int64_t *seq)
{
    *out = NULL;
    *seq = 0;
    sqlite3_stmt *s = c->stmt[LH_CSQL_ALERT_LAST];
    if (bind_text(s, 1, id) != SQLITE_OK || sqlite3_bind_int(s, 2, revision) != SQLITE_OK)
        return sql_fail(c, LH_CSQL_ALERT_LAST);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sql_done(s);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return sql_fail(c, LH_CSQL_ALERT_LAST);
    *seq = sqlite3_column_int64(s, 0);
    const void *blob = sqlite3_column_blob(s, 1);
    rc = lh_codec_alert_pb_decode(blob ? blob : "", (size_t)sqlite3_column_bytes(s, 1), out);
    sql_done(s);
    if (rc == LH_ENOMEM)
        return rc;
    if (rc < 0) {
        lh_log_ratelimited("correlator-alert-decode", LH_LOG_ERROR, COMPONENT,
                           "alert %s revision %d does not decode: %s", id, revision,
                           lh_strerror(rc));
        *out = NULL;
    }
    return 0;
}

/* The case's outcomes, oldest first, into the alert; *open gets how many are still open and
 * *resolved the latest resolution. */
static int
case_outcomes(lh_correlator_t *c, const char *id, lh_correlated_t *ca, int *open, int64_t *resolved)
{
    *open = 0;
    *resolved = 0;
    sqlite3_stmt *s = c->stmt[LH_CSQL_CASE_OUTCOMES];
    if (bind_text(s, 1, id) != SQLITE_OK)
        return sql_fail(c, LH_CSQL_CASE_OUTCOMES);
    int rc, err = 0;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        outcome_t oc;
        if ((err = oc_row(c, s, &oc)) < 0)
            break;
        lh_ca_outcome_t *o = lh_correlated_add_outcome(ca);
        if (!o || dup_str(&o->ref, oc.ref) || dup_str(&o->event_id, oc.event_id) ||
            dup_str(&o->title, oc.title)) {
            err = LH_ENOMEM;
            break;
        }
        o->kind = (lh_kind_t)oc.kind;
        o->time_ns = oc.time;
        o->resolved_ns = oc.open ? 0 : oc.resolved;
        *open += oc.open;
        if (!oc.open && oc.resolved > *resolved)
            *resolved = oc.resolved;
    }
    if (err) {
        sql_done(s);
        return err;
    }
    if (rc != SQLITE_DONE)
        return sql_fail(c, LH_CSQL_CASE_OUTCOMES);
    sql_done(s);
    return 0;
}

/* Writes the alert revision (made by the event at tseq) into the outbox; *aseq gets its seq.
 * Returns 1 when written, 0 when that revision existed already (a replay after a crash between two
 * hubs' identical work). */
static int
write_alert(lh_correlator_t *c, lh_correlated_t *ca, int64_t oseq, int64_t tseq, int64_t *aseq)
{
    lh_buf_reset(&c->pb);
    int rc = lh_codec_alert_pb_encode(ca, &c->pb);
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, COMPONENT, "cannot encode alert %s: %s", ca->id, lh_strerror(rc));
        return rc;
    }
    rc = lh_store_alert_insert(
        c->st, ca->id, (int)ca->revision, ca->outcome ? ca->outcome->id : NULL, tseq, (int)ca->kind,
        ca->service, ca->environment, oseq, ca->late, ca->created_ns, c->pb.data, c->pb.len, aseq);
    if (rc == LH_EDUPLICATE)
        return 0;
    return rc < 0 ? rc : 1;
}

/* The suspects of c->chg into the alert, and per suspect service its rollback target: the
 * version before the service's earliest suspect change, from the change or else the history. */
static int
add_suspects(lh_correlator_t *c, lh_correlated_t *ca, const char *env)
{
    int rc = 0;
    ca->more_suspects = (uint32_t)(c->n_more > UINT32_MAX ? UINT32_MAX : c->n_more);
    for (size_t i = 0; !rc && i < c->n_show; i++) {
        const change_t *ch = &c->chg[i];
        lh_suspect_t *sp = lh_correlated_add_suspect(ca);
        if (!sp)
            return LH_ENOMEM;
        if (dup_str(&sp->deploy_id, ch->deploy_id) || dup_str(&sp->event_id, ch->event_id) ||
            dup_str(&sp->service, ch->service) || dup_str(&sp->environment, env) ||
            dup_str(&sp->version, ch->version) ||
            dup_str(&sp->previous_version, ch->previous_version) ||
            dup_str(&sp->actor, ch->actor) || dup_str(&sp->commit, ch->commit) ||
            dup_str(&sp->artifact, ch->artifact))
            return LH_ENOMEM;
        sp->previous_version_derived = ch->previous_version && ch->prev_derived;
        sp->deploy_time_ns = ch->time;
        sp->lead_seconds = ch->lead_ns / LH_NS_PER_SEC;
        sp->score = ch->score;
        for (size_t r = 0; !rc && r < ch->n_reasons; r++)
            rc = lh_suspect_add_reason(sp, ch->reasons[r]) < 0 ? LH_ENOMEM : 0;
        const char *p = ch->hosts, *t;
        size_t n;
        while (!rc && (t = next_host(&p, &n))) {
            const char *h = scratch_strndup(&c->scratch, t, n);
            rc = !h || lh_suspect_add_host(sp, h) < 0 ? LH_ENOMEM : 0;
        }
    }
    /* rollback targets, services in the order of their best suspect; the earliest suspect of a
     * service may be one the alert does not list */
    for (size_t i = 0; !rc && i < c->n_show; i++) {
        const char *svc = c->chg[i].service;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            if (svc && c->chg[j].service && strcmp(svc, c->chg[j].service) == 0)
                seen = 1;
        if (!svc || seen)
            continue;
        const change_t *first = &c->chg[i];
        for (size_t j = i + 1; j < c->n_chg; j++) {
            const change_t *o = &c->chg[j];
            if (o->service && strcmp(o->service, svc) == 0 &&
                (o->time < first->time ||
                 (o->time == first->time && o->first_seq < first->first_seq)))
                first = o;
        }
        const char *version = first->previous_version;
        int derived = version && first->prev_derived;
        if (!version) {
            if ((rc = last_good(c, svc, env, first->time, first->deploy_id, &version)) < 0)
                return rc;
            derived = version != NULL;
        }
        lh_rollback_t *rb = lh_correlated_add_rollback(ca);
        if (!rb || dup_str(&rb->service, svc) || dup_str(&rb->version, version) ||
            dup_str(&rb->deploy_id, first->deploy_id) || dup_str(&rb->from_version, first->version))
            return LH_ENOMEM;
        rb->derived = derived;
        if (i == 0 && dup_str(&ca->rollback_version, version))
            return LH_ENOMEM;
    }
    return rc;
}

static int
add_change_text(lh_correlated_t *ca, const char *text)
{
    return !text || lh_correlated_add_change(ca, text) < 0 ? LH_ENOMEM : 0;
}

static int
published(const lh_correlated_t *prev, const char *deploy_id)
{
    for (size_t i = 0; prev && i < prev->n_suspects; i++)
        if (prev->suspects[i].deploy_id && strcmp(prev->suspects[i].deploy_id, deploy_id) == 0)
            return 1;
    return 0;
}

/* The alert's outcome event: the triggering event, which is what was stored at seq (the
 * pipeline stores the event it hands over; the deploy path hands over the stored one), copied
 * rather than read back and decoded. */
static int
alert_outcome(lh_correlator_t *c, lh_correlated_t *ca, int64_t seq, const lh_event_t *trig)
{
    if (trig) {
        if (!(ca->outcome = lh_event_clone(trig)))
            return LH_ENOMEM;
        ca->outcome->raw = NULL; /* the original bytes are the store's, not the alert's */
        ca->outcome->raw_len = 0;
        return 0;
    }
    int rc = load_event(c, seq, &ca->outcome);
    return rc == LH_EDECODE || rc == LH_ENOTFOUND ? 0 : rc;
}

/* Concludes outcome oc (its facts already written), triggered by the event at tseq: finds its
 * suspects, decides its case (its own, an open one with the same suspects, or a new one) and
 * publishes a revision when the conclusion changed. Returns alerts written (0 or 1). */
static int
conclude(lh_correlator_t *c, outcome_t *oc, int dirty, int64_t tseq, const lh_event_t *trig,
         int late, int64_t now_ns)
{
    lh_event_t o;
    int rc = oc_as_event(c, oc, &o);
    if (rc < 0)
        return rc;
    int n = gather(c, &o, oc->first_seq, late);
    if (n <= 0)
        return n < 0 ? n : dirty ? oc_put(c, oc) : 0;
    const char *key = suspect_key(c);
    if (!key)
        return LH_ENOMEM;

    kase_t k = {0};
    int created = 0, joined = 0;
    if (oc->case_id && (rc = case_get(c, oc->case_id, &k)) < 0)
        return rc;
    if (!k.found && c->o.group_window_ns > 0 && oc->service) {
        /* an open alert of the service with the same suspects, recent enough, takes it in */
        sqlite3_stmt *s = c->stmt[LH_CSQL_CASE_FIND];
        if (bind_lookup(s, oc->service, oc->env, sat_sub(oc->time, c->o.group_window_ns), 0) ||
            bind_text(s, 4, key) ||
            sqlite3_bind_int64(s, 5, sat_add(oc->time, c->o.group_window_ns)))
            return sql_fail(c, LH_CSQL_CASE_FIND);
        const char *id = NULL;
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && col_text(c, s, 0, &id) < 0) {
            sql_done(s);
            return LH_ENOMEM;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return sql_fail(c, LH_CSQL_CASE_FIND);
        sql_done(s);
        if (id) {
            if ((rc = case_get(c, id, &k)) < 0)
                return rc;
            joined = k.found;
        }
    }
    if (!k.found) {
        uint64_t h = lh__hash64_update(LH__HASH64_SEED, oc->okey, strlen(oc->okey));
        memset(&k, 0, sizeof(k));
        k.id = sfmt(&c->scratch, "ca-%016llx", (unsigned long long)lh__hash64_final(h));
        if (!k.id)
            return LH_ENOMEM;
        k.service = oc->service;
        k.env = oc->env;
        k.time = k.last_time = oc->time;
        created = 1;
    }
    if (!oc->case_id || strcmp(oc->case_id, k.id) != 0) {
        oc->case_id = k.id;
        dirty = 1;
    }
    /* the outcome's row, written once (its facts and its case) */
    if (dirty && (rc = oc_put(c, oc)) < 0)
        return rc;

    lh_correlated_t *prev = NULL, *ca = lh_correlated_new();
    int64_t prev_seq = 0;
    if (!ca)
        return LH_ENOMEM;
    int any_new = 0;
    for (size_t i = 0; i < c->n_show; i++)
        any_new |= c->chg[i].is_new;
    if (!created && !joined && !any_new && k.top && strcmp(k.top, c->chg[0].deploy_id) == 0 &&
        k.key && strcmp(k.key, key) == 0 && !(k.resolved && oc->open)) {
        /* the conclusion as published: same suspects, same top, nothing new (the common case
         * of an update), decided without decoding the published revision */
        goto out;
    }
    if (!created && (rc = alert_load(c, k.id, k.revision, &prev, &prev_seq)) < 0)
        goto out;

    /* what changed since the published revision, in words */
    int any_late = 0;
    const char *noun = oc->kind == LH_KIND_INCIDENT ? "incident" : "alert";
    if (joined)
        rc = add_change_text(
            ca, sfmt(&c->scratch, "joined by %s, with the same suspects", oc_phrase(c, oc)));
    for (size_t i = 0; !rc && i < c->n_show; i++) {
        const change_t *ch = &c->chg[i];
        any_late |= ch->late;
        if (created || published(prev, ch->deploy_id))
            continue;
        rc = add_change_text(
            ca, sfmt(&c->scratch, "new suspect %s (%s%s%s)%s", ch->deploy_id,
                     ch->service ? ch->service : "unknown service", ch->version ? " " : "",
                     ch->version ? ch->version : "",
                     ch->late ? sfmt(&c->scratch, ", which arrived after the %s (late data)", noun)
                              : ""));
    }
    if (!rc && !created && prev && prev->n_suspects && prev->suspects[0].deploy_id &&
        strcmp(prev->suspects[0].deploy_id, c->chg[0].deploy_id) != 0)
        rc = add_change_text(ca, sfmt(&c->scratch, "top suspect is now %s (was %s)",
                                      c->chg[0].deploy_id, prev->suspects[0].deploy_id));
    if (!rc && !created && k.resolved && oc->open) {
        rc = add_change_text(ca, sfmt(&c->scratch, "%s is open again", oc_phrase(c, oc)));
        k.resolved = 0;
    }
    if (rc)
        goto out;

    if (!created && !joined && ca->n_changes == 0) {
        /* the same conclusion: nothing to publish; new pairs are recorded with the revision
         * that named them already */
        for (size_t i = 0; !rc && i < c->n_show; i++)
            if (c->chg[i].is_new)
                rc = pair_write(c, oc->first_seq, &c->chg[i], (int)i + 1, now_ns, prev_seq);
        goto out;
    }

    /* publish the next revision */
    ca->revision = (uint32_t)k.revision + 1;
    if (oc->kind == LH_KIND_INCIDENT || k.kind == LH_CA_DEPLOY_PRECEDED_INCIDENT)
        ca->kind = LH_CA_DEPLOY_PRECEDED_INCIDENT;
    else
        ca->kind = LH_CA_DEPLOY_PRECEDED_ALERT;
    ca->late = k.late || any_late;
    ca->created_ns = now_ns;
    if (dup_str(&ca->id, k.id) || dup_str(&ca->service, k.service) ||
        dup_str(&ca->environment, k.env)) {
        rc = LH_ENOMEM;
        goto out;
    }
    if ((rc = add_suspects(c, ca, oc->env)) < 0)
        goto out;
    int open;
    if (created) {
        /* a new case stands for this outcome alone: no need to read it back */
        lh_ca_outcome_t *co = lh_correlated_add_outcome(ca);
        if (!co || dup_str(&co->ref, oc->ref) || dup_str(&co->event_id, oc->event_id) ||
            dup_str(&co->title, oc->title)) {
            rc = LH_ENOMEM;
            goto out;
        }
        co->kind = (lh_kind_t)oc->kind;
        co->time_ns = oc->time;
        co->resolved_ns = oc->open ? 0 : oc->resolved;
        if (!oc->open) {
            k.resolved = 1; /* concluded after its end (a late deploy): final at once */
            ca->resolved_ns = oc->resolved;
        }
    } else if ((rc = case_outcomes(c, k.id, ca, &open, &ca->resolved_ns)) < 0) {
        goto out;
    }
    ca->resolved = k.resolved;
    if (!ca->resolved)
        ca->resolved_ns = 0;
    if ((rc = alert_outcome(c, ca, tseq, trig)) < 0)
        goto out;
    int64_t aseq = 0;
    int written = write_alert(c, ca, oc->first_seq, tseq, &aseq);
    if (written < 0) {
        rc = written;
        goto out;
    }
    k.kind = (int)ca->kind;
    k.revision = (int)ca->revision;
    k.top = c->chg[0].deploy_id;
    k.key = key;
    k.late = ca->late;
    if (oc->time < k.time)
        k.time = oc->time;
    if (oc->time > k.last_time)
        k.last_time = oc->time;
    if ((rc = case_put(c, &k)) < 0)
        goto out;
    for (size_t i = 0; !rc && i < c->n_show; i++)
        rc = pair_write(c, oc->first_seq, &c->chg[i], (int)i + 1, now_ns, aseq);
    if (!rc)
        rc = written;
out:
    lh_correlated_destroy(&prev);
    lh_correlated_destroy(&ca);
    return rc;
}

/* Outcome oc was resolved by the event at tseq: when it was the case's last open outcome, the
 * case's final revision says so. Returns alerts written. */
static int
resolve(lh_correlator_t *c, const outcome_t *oc, int64_t tseq, const lh_event_t *trig,
        int64_t now_ns)
{
    if (!oc->case_id)
        return 0;
    kase_t k;
    int rc = case_get(c, oc->case_id, &k);
    if (rc < 0 || !k.found || k.resolved)
        return rc;
    lh_correlated_t *prev = NULL, *ca = lh_correlated_new();
    int64_t prev_seq = 0;
    if (!ca)
        return LH_ENOMEM;
    /* only the case's last open outcome closes it: count before building anything */
    sqlite3_stmt *s = c->stmt[LH_CSQL_CASE_OPEN];
    if (bind_text(s, 1, k.id) != SQLITE_OK || (rc = sqlite3_step(s)) != SQLITE_ROW) {
        rc = sql_fail(c, LH_CSQL_CASE_OPEN);
        goto out;
    }
    int open = sqlite3_column_int(s, 0);
    sql_done(s);
    rc = 0;
    if (open)
        goto out;
    if ((rc = case_outcomes(c, k.id, ca, &open, &ca->resolved_ns)) < 0 || open)
        goto out;
    if ((rc = alert_load(c, k.id, k.revision, &prev, &prev_seq)) < 0 || !prev)
        goto out;
    /* the published conclusion stands; the revision adds the resolution */
    ca->suspects = prev->suspects;
    ca->n_suspects = prev->n_suspects;
    prev->suspects = NULL;
    prev->n_suspects = 0;
    ca->rollbacks = prev->rollbacks;
    ca->n_rollbacks = prev->n_rollbacks;
    prev->rollbacks = NULL;
    prev->n_rollbacks = 0;
    ca->rollback_version = prev->rollback_version;
    prev->rollback_version = NULL;
    ca->kind = prev->kind;
    ca->late = prev->late;
    ca->revision = (uint32_t)k.revision + 1;
    ca->resolved = 1;
    ca->created_ns = now_ns;
    if (dup_str(&ca->id, k.id) || dup_str(&ca->service, k.service) ||
        dup_str(&ca->environment, k.env)) {
        rc = LH_ENOMEM;
        goto out;
    }
    char when[40] = "", ttr[32] = "";
    lh_time_format(ca->resolved_ns, when, sizeof(when));
    if (lh_duration_human(sat_sub(ca->resolved_ns, k.time), ttr, sizeof(ttr)) < 0)
        snprintf(ttr, sizeof(ttr), "0s");
    rc = add_change_text(ca, sfmt(&c->scratch, "resolved: %s resolved at %s, %s after it began",
                                  oc_phrase(c, oc), when, ttr));
    if (!rc)
        rc = alert_outcome(c, ca, tseq, trig);
    if (rc)
        goto out;
    int64_t aseq = 0;
    int written = write_alert(c, ca, oc->first_seq, tseq, &aseq);
    if (written < 0) {
        rc = written;
        goto out;
    }
    k.resolved = 1;
    k.revision = (int)ca->revision;
    rc = case_put(c, &k);
    if (!rc)
        rc = written;
out:
    lh_correlated_destroy(&prev);
    lh_correlated_destroy(&ca);
    return rc;
}

/* ---- the two paths -------------------------------------------------------------------------- */

/* Outcome path: ev (an incident, or a monitoring alert) is stored at seq. Finds or starts its
 * outcome, adds ev's facts, and concludes or resolves. Returns alerts written. */
static int
correlate_outcome(lh_correlator_t *c, const lh_event_t *ev, int64_t seq, int64_t now_ns)
{
    outcome_t oc;
    const char *okey = NULL;
    int rc, resolves;
    if (ev->kind == LH_KIND_INCIDENT) {
        if (!ev->incident.incident_id)
            return 0;
        resolves = ev->incident.state == LH_INCIDENT_RESOLVED;
        if (!(okey = okey_incident(c, ev->environment, ev->incident.incident_id)))
            return LH_ENOMEM;
        if ((rc = oc_read(c, LH_CSQL_OC_GET, ev->incident.incident_id, ev->environment, 0, &oc)) <
            0)
            return rc;
    } else {
        const char *ref = alert_ref(ev);
        if (!ref)
            return 0;
        resolves = ev->alert.state == LH_ALERT_RESOLVED;
        /* a firing below the minimum severity is no outcome of its own nor news to one; nor is
         * its resolution (notifications carry the alert's severity) */
        if (!resolves && !lh_correlator_is_outcome(c, ev))
            return 0;
        if (resolves && ev->alert.severity != LH_SEV_UNSPECIFIED &&
            ev->alert.severity < c->o.alert_min_severity)
            return 0;
        if ((rc = oc_read(c, LH_CSQL_OC_OPEN, ref, ev->environment, 0, &oc)) < 0)
            return rc;
        if (oc.found && !oc.open)
            memset(&oc, 0, sizeof(oc)); /* its newest period ended: none is open */
        okey = oc.okey;
        if (!okey) {
            /* a resolution of nothing open, or a firing below the minimum severity: no outcome */
            if (resolves || !lh_correlator_is_outcome(c, ev))
                return 0;
            okey = sfmt(&c->scratch, "alert\x1f%s\x1f%s\x1f%lld",
                        ev->environment ? ev->environment : "", ref, (long long)ev->time_ns);
            if (!okey)
                return LH_ENOMEM;
            memset(&oc, 0, sizeof(oc));
        }
    }
    if (!oc.found) {
        oc.okey = okey;
        oc.kind = (int)ev->kind;
        oc.ref = ev->kind == LH_KIND_INCIDENT ? ev->incident.incident_id : alert_ref(ev);
        oc.service = ev->service;
        oc.env = ev->environment;
        oc.time = ev->time_ns;
        oc.first_seq = seq;
        oc.event_id = ev->id;
        oc.open = 1;
    }
    /* ev's facts; a notification that adds none is not written again */
    int changed = !oc.found;
    const char *title = ev->kind == LH_KIND_INCIDENT ? ev->incident.title : ev->alert.name;
    if (title && (!oc.title || strcmp(title, oc.title) != 0)) {
        oc.title = title;
        changed = 1;
    }
    const char *artifact = outcome_artifact(ev);
    if (artifact && !oc.artifact) {
        oc.artifact = artifact;
        changed = 1;
    }
    if (ev->time_ns < oc.time) {
        oc.time = ev->time_ns; /* the outcome began when its earliest event says */
        changed = 1;
    }
    int err;
    const char *hosts = hosts_union(c, oc.hosts, ev, &err);
    if (err)
        return err;
    if (hosts != oc.hosts) {
        oc.hosts = hosts;
        changed = 1;
    }
    int reopened = 0;
    if (resolves) {
        if (oc.open || ev->time_ns < oc.resolved) {
            oc.open = 0;
            oc.resolved = ev->time_ns;
            changed = 1;
        } else {
            resolves = 0; /* resolved again: nothing new */
        }
    } else if (!oc.open && ev->time_ns > oc.resolved) {
        oc.open = 1; /* an update after the resolution: open again */
        reopened = 1;
        changed = 1;
    }
    int concludes = !resolves && (oc.open || reopened);
    if (changed && !concludes && (rc = oc_put(c, &oc)) < 0)
        return rc;

    if (resolves)
        return resolve(c, &oc, seq, ev, now_ns);
    if (!concludes)
        return 0; /* an earlier update of a resolved outcome */
    return conclude(c, &oc, changed, seq, ev, 0, now_ns);
}

/* Deploy path: finds outcomes already stored that the change of ev precedes and concludes each
 * again (its new pairs are late). Returns alerts written. */
static int
correlate_deploy(lh_correlator_t *c, const lh_event_t *ev, int64_t now_ns)
{
    if (!ev->deploy.deploy_id)
        return 0; /* the pipeline normalizes: a deploy always has one */
    c->n_chg = 0;
    c->n_oseq = 0;
    change_t *ch = chg_push(c);
    if (!ch)
        return LH_ENOMEM;
    ch->deploy_id = ev->deploy.deploy_id;
    const char *env = ev->environment;
    cache_drop(c, ch->deploy_id, env); /* ev is one more event of the change */
    int rc = load_change(c, ch, env);
    if (rc < 0)
        return rc;
    if (!ch->found || !is_suspect_status(ch->status))
        return 0;
    const int64_t from = ch->time, to = sat_add(ch->time, c->o.window_ns);
    if (ch->service)
        rc = collect(c, LH_CSQL_OUT_SERVICE, ch->service, env, from, to, add_outcome);
    const char *p = ch->hosts, *t;
    size_t n;
    while (!rc && (t = next_host(&p, &n))) {
        const char *h = scratch_strndup(&c->scratch, t, n);
        rc = h ? collect(c, LH_CSQL_OUT_HOST, h, env, from, to, add_outcome) : LH_ENOMEM;
    }
    if (!rc && ch->artifact)
        rc = collect(c, LH_CSQL_OUT_ARTIFACT, ch->artifact, env, from, to, add_outcome);
    if (rc < 0)
        return rc;
    if (!c->n_oseq)
        return 0;

    qsort(c->oseq, c->n_oseq, sizeof(*c->oseq), cmp_i64);
    /* conclude() reuses the scratch and candidates: work from a private list */
    size_t n_out = 0;
    for (size_t i = 0; i < c->n_oseq; i++)
        if (!i || c->oseq[i] != c->oseq[i - 1])
            c->oseq[n_out++] = c->oseq[i];
    c->n_oseq = n_out;

    /* the outcomes of those events, each concluded once */
    int64_t *done = scratch_alloc(&c->scratch, n_out * sizeof(int64_t));
    if (!done)
        return LH_ENOMEM;
    size_t n_done = 0;
    int total = 0;
    for (size_t i = 0; i < n_out; i++) {
        lh_event_t *o = NULL;
        rc = load_event(c, c->oseq[i], &o);
        if (rc == LH_EDECODE || rc == LH_ENOTFOUND)
            continue; /* logged; one bad row must not block the batch */
        if (rc < 0)
            return rc;
        outcome_t oc;
        rc = oc_of(c, o, &oc);
        for (size_t j = 0; !rc && oc.found && j < n_done; j++)
            if (done[j] == oc.first_seq)
                oc.found = 0;
        if (!rc && oc.found) {
            done[n_done++] = oc.first_seq;
            rc = conclude(c, &oc, 0, c->oseq[i], o, 1, now_ns);
        }
        lh_event_destroy(&o);
        if (rc < 0)
            return rc;
        total += rc;
    }
    return total;
}

int
lh_correlator_add(lh_correlator_t *c, const lh_event_t *ev, int64_t seq, int64_t now_ns)
{
    if (!c || !ev)
        return LH_EINVAL;
    cache_check_discards(c);
    scratch_reset(&c->scratch);
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        return correlate_deploy(c, ev, now_ns);
    case LH_KIND_ALERT:
    case LH_KIND_INCIDENT:
        return correlate_outcome(c, ev, seq, now_ns);
    default:
        return 0;
    }
}

int
lh_correlator_enrich(lh_correlator_t *c, lh_event_t *ev)
{
    if (!c || !ev)
        return LH_EINVAL;
    if (ev->kind != LH_KIND_DEPLOY || ev->deploy.previous_version || !ev->service)
        return 0;
    cache_check_discards(c);
    scratch_reset(&c->scratch);
    const char *v = NULL;
    int rc = last_good(c, ev->service, ev->environment, ev->time_ns, ev->deploy.deploy_id, &v);
    if (rc < 0 || !v)
        return rc;
    if (!(ev->deploy.previous_version = lh_event_str(ev, v, strlen(v))))
        return LH_ENOMEM;
    ev->deploy.previous_version_derived = 1;
    return 0;
}
