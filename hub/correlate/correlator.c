/*
 * correlator.c - links changes (deploys) to the outcomes (incidents, firing alerts) that
 * followed them, and writes correlated alerts, in revisions, into the store's outbox. The
 * semantics, the score and the reasons are documented for users in docs/correlation.md. This
 * file holds changes, candidates, reasons, pairs, the deploy path and the entry points; the
 * outcome path (outcomes, cases, revisions) is outcome.c; correlator_internal.h is what the two
 * share.
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
 *  - No state beyond options, prepared statements, scratch buffers, one hint and two caches:
 *    every fact comes from the store, so a restart rebuilds nothing and re-delivery changes
 *    nothing. The hint is the highest outcome seq any pair was ever written for (read at start,
 *    raised on each insert): an outcome above it has no pairs, so its run skips one lookup per
 *    suspect. A rolled-back batch can only leave the hint too high, which costs lookups, never
 *    a pair. The cache holds recently loaded changes (two-way sets, CCACHE_SLOTS): loading a
 *    change reads its rows from the table, the largest cost of an outcome once the candidate
 *    lookups read indexes only. A change only changes when a deploy event of it is stored,
 *    and every stored deploy passes through the deploy path, which drops the entry first; a
 *    transaction whose writes were discarded (lh__store_discards) drops the whole cache. The
 *    cache of outcome lookups (outcome.c) follows the same rule for the outcome rows, and keeps
 *    each outcome's memo of its last conclusion: the ticks of `touched` (which scopes were
 *    written when) tell whether it still stands (outcome.c, "the memo of a conclusion").
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
#include "correlator_internal.h"

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

#define MAX_HOSTS_NAMED 5
#define CHUNK_MIN 8192
#define CCACHE_SLOTS 8192   /* power of two: two-way sets */
#define TOUCHED_SLOTS 32768 /* power of two: the scopes of the memos, 256 kB */

int lh__c_test_cache_mode; /* lh__c_test_caches() */

void
lh__c_test_caches(int mode)
{
    lh__c_test_cache_mode = mode;
}
/* Rows one candidate or outcome lookup reads at most, most recent first: an implausibly busy
 * window (thousands of deploys of one service) costs a bounded amount of work per event, and the
 * most recent changes are the best-scored ones of a relation. */
#define LOOKUP_LIMIT 512
/* Related changes above which a window counts as implausibly busy (a reason says so). */
#define BUSY_WINDOW 100

/* ---- scratch: strings that live until the next correlation run -------------------------- */

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

void *
lh__c_scratch_alloc(scratch_t *s, size_t n)
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

char *
lh__c_scratch_strndup(scratch_t *s, const char *p, size_t n)
{
    char *d = lh__c_scratch_alloc(s, n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- types ---------------------------------------------------------------------------------- */

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
    [LH_CSQL_OC_UPDATE_STATE] = "outcome state update",
    [LH_CSQL_OC_UPDATE_FACTS] = "outcome facts update",
    [LH_CSQL_CASE_GET] = "case lookup",
    [LH_CSQL_CASE_FIND] = "open case lookup",
    [LH_CSQL_CASE_PUT] = "case write",
    [LH_CSQL_CASE_UPDATE] = "case update",
    [LH_CSQL_CASE_OUTCOMES] = "case outcomes",
    [LH_CSQL_ALERT_LAST] = "published revision",
    [LH_CSQL_CASE_OPEN] = "open outcomes of a case",
    [LH_CSQL_COUNT_SERVICE] = "changes of a service",
    [LH_CSQL_CHANGE_TICKETS] = "tickets of a change",
    [LH_CSQL_ALERT_EXISTS] = "alert lookup",
};

/* Logs the connection's error once, resets the statement, returns LH_ESTORE. */
int
lh__c_sql_fail(lh_correlator_t *c, int which)
{
    lh_log(LH_LOG_ERROR, COMPONENT, "%s: %s", stmt_names[which], sqlite3_errmsg(c->db));
    sqlite3_reset(c->stmt[which]);
    sqlite3_clear_bindings(c->stmt[which]);
    return LH_ESTORE;
}

void
lh__c_sql_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

int
lh__c_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Binds the (key, environment, from, to) quadruple shared by every lookup. */
int
lh__c_bind_lookup(sqlite3_stmt *s, const char *key, const char *env, int64_t from, int64_t to)
{
    int rc = lh__c_bind_text(s, 1, key);
    if (rc == SQLITE_OK)
        rc = lh__c_bind_text(s, 2, env);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, from);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, to);
    return rc;
}

int64_t
lh__c_sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

int64_t
lh__c_sat_sub(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* ---- options, lifecycle --------------------------------------------------------------------- */

void
lh_correlator_opts_default(lh_correlator_opts_t *o)
{
    memset(o, 0, sizeof(*o)); /* a field added later starts off */
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
    if (o->require_approved_ticket && *o->require_approved_ticket &&
        !(c->require = strdup(o->require_approved_ticket))) {
        free(c);
        return LH_ENOMEM;
    }
    c->o.require_approved_ticket = c->require;
    c->cache_slots = lh__c_test_cache_mode == 2 ? 4 : CCACHE_SLOTS;
    if (lh__c_test_cache_mode != 1) /* optional: NULL runs uncached */
        c->cache = calloc(c->cache_slots, sizeof(*c->cache));
    c->cache_discards = lh__store_discards(st);
    lh__c_ocache_init(c);
    c->touched_slots = lh__c_test_cache_mode == 2 ? 4 : TOUCHED_SLOTS;
    if (lh__c_test_cache_mode != 1 && c->ocache) /* the memos live in the outcome cache */
        c->touched = calloc(c->touched_slots, sizeof(*c->touched));
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
    lh__c_sql_done(s);
    if (rc != SQLITE_ROW) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: %s", stmt_names[LH_CSQL_PAIR_MAX],
               sqlite3_errmsg(c->db));
        lh_correlator_destroy(&c);
        return LH_ESTORE;
    }
    *out = c;
    return 0;
}

int
lh_correlator_set_opts(lh_correlator_t *c, const lh_correlator_opts_t *o)
{
    if (!o || o->window_ns <= 0 || o->group_window_ns < 0 ||
        o->alert_min_severity < LH_SEV_UNSPECIFIED || o->alert_min_severity > LH_SEV_CRITICAL)
        return LH_EINVAL;
    char *req = NULL;
    if (o->require_approved_ticket && *o->require_approved_ticket &&
        !(req = strdup(o->require_approved_ticket)))
        return LH_ENOMEM;
    free(c->require);
    c->require = req;
    c->o.window_ns = o->window_ns;
    c->o.group_window_ns = o->group_window_ns;
    c->o.alert_min_severity = o->alert_min_severity;
    c->o.require_approved_ticket = c->require;
    c->memo_floor = ++c->tick; /* a conclusion under the old options no longer stands */
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
        for (size_t i = 0; i < c->cache_slots; i++)
            free(c->cache[i].block);
    free(c->cache);
    lh__c_ocache_free(c);
    free(c->touched);
    free(c->require);
    free(c);
    *cp = NULL;
}

void
lh_correlator_stats(const lh_correlator_t *c, lh_correlator_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (c)
        *out = c->stats;
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
    if (!ch || !(ch->deploy_id =
                     lh__c_scratch_strndup(&c->scratch, id, (size_t)sqlite3_column_bytes(s, 0))))
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
    if (from < 0)
        from = 0; /* no event is older than 1970 (lh_event_validate): no bucket to walk there */
    if (lh__c_bind_lookup(s, key, env, from, to) != SQLITE_OK)
        return lh__c_sql_fail(c, which);
    /* the window's time buckets newest first, each in time order backwards (its index's order):
     * together the newest LOOKUP_LIMIT rows of the window, as one ORDER BY time DESC would give */
    int rc, rows = 0;
    for (int64_t b = lh_store_bucket(to); b >= lh_store_bucket(from); b--) {
        if (rows >= LOOKUP_LIMIT)
            break;
        if (sqlite3_bind_int(s, 5, LOOKUP_LIMIT - rows) != SQLITE_OK ||
            sqlite3_bind_int64(s, 6, b) != SQLITE_OK)
            return lh__c_sql_fail(c, which);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            rows++;
            if (add(c, s) < 0) {
                lh__c_sql_done(s);
                return LH_ENOMEM;
            }
        }
        if (rc != SQLITE_DONE)
            return lh__c_sql_fail(c, which);
        sqlite3_reset(s);
    }
    lh__c_sql_done(s);
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
    *dst = lh__c_scratch_strndup(&c->scratch, v, (size_t)sqlite3_column_bytes(s, col));
    return *dst ? 0 : LH_ENOMEM;
}

/* ---- change cache --------------------------------------------------------------------------- */

uint64_t
lh__c_key_hash(uint64_t h, const char *key, const char *env)
{
    h = lh__hash64_update(h, key, strlen(key) + 1);
    /* NULL and "" are different environments */
    h = env ? lh__hash64_update(h, env, strlen(env) + 1) : lh__hash64_update(h, "\xff", 1);
    return lh__hash64_final(h);
}

static uint64_t
centry_hash(const char *deploy_id, const char *env)
{
    return lh__c_key_hash(LH__HASH64_SEED, deploy_id, env);
}

static int
centry_is(const centry_t *e, uint64_t h, const char *deploy_id, const char *env)
{
    if (!e->block || e->hash != h || strcmp(e->deploy_id, deploy_id) != 0)
        return 0;
    return env ? e->env && strcmp(e->env, env) == 0 : e->env == NULL;
}

/* The two entries of h's set: the one used last first. */
static centry_t *
centry_set(lh_correlator_t *c, uint64_t h)
{
    return &c->cache[(h & (c->cache_slots / 2 - 1)) * 2];
}

/* The change's entry, made the first of its set; NULL when the cache does not hold it. */
static centry_t *
centry_find(lh_correlator_t *c, uint64_t h, const char *deploy_id, const char *env)
{
    if (!c->cache)
        return NULL;
    centry_t *set = centry_set(c, h);
    if (centry_is(&set[0], h, deploy_id, env))
        return &set[0];
    if (!centry_is(&set[1], h, deploy_id, env))
        return NULL;
    centry_t t = set[0];
    set[0] = set[1];
    set[1] = t;
    return &set[0];
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
        for (size_t i = 0; i < c->cache_slots; i++)
            centry_clear(&c->cache[i]);
    lh__c_ocache_clear(c); /* and the memos with it */
}

/* ---- scopes: what the memos of conclusions read (outcome.c) --------------------------------- */

uint32_t
lh__c_scope(const lh_correlator_t *c, int tag, const char *key, size_t len, const char *env)
{
    unsigned char t = (unsigned char)tag;
    uint64_t h = lh__hash64_update(LH__HASH64_SEED, &t, 1);
    h = lh__hash64_update(h, key, len);
    h = lh__hash64_update(h, "", 1); /* as lh__c_key_hash() ends a key */
    h = env ? lh__hash64_update(h, env, strlen(env) + 1) : lh__hash64_update(h, "\xff", 1);
    return (uint32_t)(lh__hash64_final(h) & (c->touched_slots - 1));
}

void
lh__c_touch(lh_correlator_t *c, int tag, const char *key, const char *env)
{
    if (c->touched && key)
        c->touched[lh__c_scope(c, tag, key, strlen(key), env)] = ++c->tick;
}

/* Deploy event ev is stored: every scope a candidate lookup finds it by (its service, each
 * host, its artifact, in its environment) and its change are written. */
static void
touch_deploy(lh_correlator_t *c, const lh_event_t *ev)
{
    const char *env = ev->environment;
    lh__c_touch(c, LH__SCOPE_SERVICE, ev->service, env);
    for (size_t i = 0; i < ev->n_hosts; i++)
        lh__c_touch(c, LH__SCOPE_HOST, ev->hosts[i], env);
    lh__c_touch(c, LH__SCOPE_ARTIFACT, ev->deploy.artifact, env);
    lh__c_touch(c, LH__SCOPE_CHANGE, ev->deploy.deploy_id, env);
}

/* Copies a change just loaded (not in the cache) into its set, first. Best effort: without memory
 * the change is simply not cached. */
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
    centry_t *e = centry_set(c, h);
    if (e[0].block) { /* the set's older entry makes room */
        centry_clear(&e[1]);
        e[1] = e[0];
    }
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
        *to = v ? lh__c_scratch_strndup(&c->scratch, v, strlen(v)) : NULL;
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
    if (e) {
        c->stats.hits[LH_CORR_CACHE_CHANGES]++;
        return cache_take(c, ch, e);
    }
    c->stats.misses[LH_CORR_CACHE_CHANGES]++;
    sqlite3_stmt *s = c->stmt[LH_CSQL_CHANGE];
    if (lh__c_bind_text(s, 1, ch->deploy_id) != SQLITE_OK ||
        lh__c_bind_text(s, 2, env) != SQLITE_OK)
        return lh__c_sql_fail(c, LH_CSQL_CHANGE);
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
        lh__c_sql_done(s);
        return err;
    }
    if (rc != SQLITE_DONE)
        return lh__c_sql_fail(c, LH_CSQL_CHANGE);
    lh__c_sql_done(s);
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
const char *
lh__c_next_host(const char **p, size_t *len)
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

int
lh__c_hosts_contain(const char *hosts, const char *h)
{
    size_t n, hl = strlen(h);
    const char *p = hosts, *t;
    while ((t = lh__c_next_host(&p, &n)))
        if (n == hl && memcmp(t, h, n) == 0)
            return 1;
    return 0;
}

/* ---- reasons and score ---------------------------------------------------------------------- */

const char *
lh__c_sfmt(scratch_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = lh__c_scratch_alloc(s, (size_t)n + 1);
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
        if (!h || !lh__c_hosts_contain(hosts, h))
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
    const char *r = lh__c_scratch_strndup(&c->scratch, (const char *)b->data, b->len);
    if (!r)
        *err = LH_ENOMEM;
    return r;
}

const char *
lh__c_outcome_artifact(const lh_event_t *o)
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
    const char *artifact = lh__c_outcome_artifact(o);
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
        rc = add_reason(ch, lh__c_sfmt(s, "the %s names artifact %s, which this change shipped",
                                       noun, artifact));
    if (!rc && (ch->rel & LH__REL_SERVICE))
        rc =
            add_reason(ch, o->environment ? lh__c_sfmt(s, "same service and environment (%s in %s)",
                                                       o->service, o->environment)
                                          : lh__c_sfmt(s, "same service (%s)", o->service));
    if (!rc && !(ch->rel & (LH__REL_ARTIFACT | LH__REL_SERVICE)))
        rc = add_reason(ch, lh__c_sfmt(s, "shares host%s %s with the %s (service %s)",
                                       n_shared > 1 ? "s" : "", shared, noun,
                                       ch->service ? ch->service : "unknown"));
    if (!rc) {
        char d[32];
        if (ch->lead_ns < LH_NS_PER_SEC || lh_duration_human(ch->lead_ns, d, sizeof(d)) < 0)
            rc = add_reason(ch, lh__c_sfmt(s, "%s as the %s began",
                                           ch->status == LH_DEPLOY_STARTED
                                               ? "started at the same moment"
                                               : "deployed at the same moment",
                                           noun));
        else
            rc = add_reason(ch, lh__c_sfmt(s, "%s %s before the %s",
                                           ch->status == LH_DEPLOY_STARTED ? "started" : "deployed",
                                           d, noun));
    }
    if (!rc && ch->status == LH_DEPLOY_STARTED)
        rc = add_reason(ch, lh__c_sfmt(s, "still deploying when the %s began", noun));
    if (!rc && (ch->rel & LH__REL_HOSTS) && (ch->rel & (LH__REL_ARTIFACT | LH__REL_SERVICE)))
        rc = add_reason(ch, lh__c_sfmt(s, "shares host%s %s", n_shared > 1 ? "s" : "", shared));
    if (!rc && ch->late)
        rc = add_reason(ch, lh__c_sfmt(s, "arrived after the %s (late data)", noun));
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
    if (sqlite3_bind_int64(s, 1, oseq) != SQLITE_OK ||
        lh__c_bind_text(s, 2, ch->deploy_id) != SQLITE_OK)
        return lh__c_sql_fail(c, LH_CSQL_PAIR_GET);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        ch->is_new = 0;
        ch->late = sqlite3_column_int(s, 0);
    } else if (rc == SQLITE_DONE) {
        ch->is_new = 1;
        ch->late = late;
    } else {
        return lh__c_sql_fail(c, LH_CSQL_PAIR_GET);
    }
    lh__c_sql_done(s);
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
int
lh__c_pair_write(lh_correlator_t *c, int64_t oseq, const change_t *ch, int rank, int64_t now_ns,
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
        rc = sqlite3_bind_int64(s, 1, oseq) || lh__c_bind_text(s, 2, ch->deploy_id) ||
             sqlite3_bind_int64(s, 3, ch->first_seq) || sqlite3_bind_double(s, 4, ch->score) ||
             sqlite3_bind_int(s, 5, rank) || sqlite3_bind_int64(s, 6, lead) ||
             sqlite3_bind_text(s, 7, reasons, rlen, SQLITE_STATIC) ||
             sqlite3_bind_int(s, 8, ch->late) || sqlite3_bind_int64(s, 9, now_ns) ||
             (aseq ? sqlite3_bind_int64(s, 10, aseq) : sqlite3_bind_null(s, 10));
    else
        rc = sqlite3_bind_int64(s, 1, oseq) || lh__c_bind_text(s, 2, ch->deploy_id) ||
             sqlite3_bind_double(s, 3, ch->score) || sqlite3_bind_int(s, 4, rank) ||
             sqlite3_bind_int64(s, 5, lead) ||
             sqlite3_bind_text(s, 6, reasons, rlen, SQLITE_STATIC) ||
             (aseq ? sqlite3_bind_int64(s, 7, aseq) : sqlite3_bind_null(s, 7));
    if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        return lh__c_sql_fail(c, which);
    lh__c_sql_done(s);
    if (oseq > c->max_pair_oseq)
        c->max_pair_oseq = oseq;
    return 0;
}

/* The event at seq, whole (lh_store_event_load()), into *out. */
int
lh__c_load_event(lh_correlator_t *c, int64_t seq, lh_event_t **out)
{
    char why[160] = "";
    int err = lh_store_event_load(c->st, seq, out, why, sizeof(why));
    if (err == LH_ENOTFOUND)
        lh_log(LH_LOG_ERROR, COMPONENT, "event seq %lld is not in the store", (long long)seq);
    else if (err == LH_EDECODE)
        lh_log_ratelimited("correlator-decode", LH_LOG_ERROR, COMPONENT,
                           "stored event seq %lld does not decode: %s", (long long)seq, why);
    return err;
}

int
lh__c_dup_str(char **dst, const char *s)
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
int
lh__c_last_good(lh_correlator_t *c, const char *service, const char *env, int64_t before,
                const char *skip, const char **out)
{
    *out = NULL;
    if (!service)
        return 0;
    sqlite3_stmt *s = c->stmt[LH_CSQL_LAST_GOOD];
    if (lh__c_bind_text(s, 1, service) != SQLITE_OK || lh__c_bind_text(s, 2, env) != SQLITE_OK ||
        sqlite3_bind_int64(s, 3, before) != SQLITE_OK || lh__c_bind_text(s, 4, skip) != SQLITE_OK)
        return lh__c_sql_fail(c, LH_CSQL_LAST_GOOD);
    /* the rows first (load_change runs another statement); at most LIMIT 16 of them */
    const char *ids[16];
    size_t n = 0;
    int rc;
    while (n < 16 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!id)
            continue;
        if (!(ids[n++] =
                  lh__c_scratch_strndup(&c->scratch, id, (size_t)sqlite3_column_bytes(s, 0)))) {
            lh__c_sql_done(s);
            return LH_ENOMEM;
        }
    }
    if (n < 16 && rc != SQLITE_DONE)
        return lh__c_sql_fail(c, LH_CSQL_LAST_GOOD);
    lh__c_sql_done(s);
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

/* ---- suspects ------------------------------------------------------------------------------- */

/* Finds the suspects of outcome o (recorded at oseq) and ranks them into c->chg. late marks
 * pairs concluded now as late. Returns their number or an error. */
int
lh__c_gather(lh_correlator_t *c, const lh_event_t *o, int64_t oseq, int late)
{
    c->n_chg = c->n_show = c->n_more = c->n_cand = 0;
    c->truncated = 0;
    const int64_t t = o->time_ns, from = lh__c_sat_sub(t, c->o.window_ns);
    const char *env = o->environment, *artifact = lh__c_outcome_artifact(o);
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
        if (c->touched && c->n_cand < MEMO_SCOPES) /* found, related or not: the memo's */
            c->cand[c->n_cand] =
                lh__c_scope(c, LH__SCOPE_CHANGE, ch.deploy_id, strlen(ch.deploy_id), env);
        c->n_cand++;
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
        if (lh__c_bind_lookup(s, o->service, env, from, t) != SQLITE_OK)
            return lh__c_sql_fail(c, LH_CSQL_COUNT_SERVICE);
        if ((rc = sqlite3_step(s)) != SQLITE_ROW)
            return lh__c_sql_fail(c, LH_CSQL_COUNT_SERVICE);
        size_t all = (size_t)sqlite3_column_int64(s, 0);
        lh__c_sql_done(s);
        if (all > related)
            related = all;
    }
    c->n_more = related - c->n_show;
    if (related > BUSY_WINDOW && c->n_show) {
        /* so many changes at once that timing and relation cannot tell them apart well */
        const char *r =
            lh__c_sfmt(&c->scratch,
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

/* ---- the two paths -------------------------------------------------------------------------- */

/* Deploy path: finds outcomes already stored that the change of ev precedes and concludes each
 * again (its new pairs are late). Returns alerts written. */
static int
correlate_deploy(lh_correlator_t *c, const lh_event_t *ev, int64_t seq, int64_t now_ns)
{
    touch_deploy(c, ev);
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
    int raised = 0; /* the require_approved_ticket rule's alert */
    if (ch->found && lh__c_requires_ticket(c, env) &&
        (raised = lh__c_unapproved(c, ch, ev, seq, now_ns)) < 0)
        return raised;
    if (!ch->found || !is_suspect_status(ch->status))
        return raised;
    const int64_t from = ch->time, to = lh__c_sat_add(ch->time, c->o.window_ns);
    if (ch->service)
        rc = collect(c, LH_CSQL_OUT_SERVICE, ch->service, env, from, to, add_outcome);
    const char *p = ch->hosts, *t;
    size_t n;
    while (!rc && (t = lh__c_next_host(&p, &n))) {
        const char *h = lh__c_scratch_strndup(&c->scratch, t, n);
        rc = h ? collect(c, LH_CSQL_OUT_HOST, h, env, from, to, add_outcome) : LH_ENOMEM;
    }
    if (!rc && ch->artifact)
        rc = collect(c, LH_CSQL_OUT_ARTIFACT, ch->artifact, env, from, to, add_outcome);
    if (rc < 0)
        return rc;
    if (!c->n_oseq)
        return raised;

    qsort(c->oseq, c->n_oseq, sizeof(*c->oseq), cmp_i64);
    /* lh__c_conclude() reuses the scratch and candidates: work from a private list */
    size_t n_out = 0;
    for (size_t i = 0; i < c->n_oseq; i++)
        if (!i || c->oseq[i] != c->oseq[i - 1])
            c->oseq[n_out++] = c->oseq[i];
    c->n_oseq = n_out;

    /* the outcomes of those events, each concluded once */
    int64_t *done = lh__c_scratch_alloc(&c->scratch, n_out * sizeof(int64_t));
    if (!done)
        return LH_ENOMEM;
    size_t n_done = 0;
    int total = raised;
    for (size_t i = 0; i < n_out; i++) {
        lh_event_t *o = NULL;
        rc = lh__c_load_event(c, c->oseq[i], &o);
        if (rc == LH_EDECODE || rc == LH_ENOTFOUND)
            continue; /* logged; one bad row must not block the batch */
        if (rc < 0)
            return rc;
        outcome_t oc;
        rc = lh__c_oc_of(c, o, &oc);
        for (size_t j = 0; !rc && oc.found && j < n_done; j++)
            if (done[j] == oc.first_seq)
                oc.found = 0;
        if (!rc && oc.found) {
            done[n_done++] = oc.first_seq;
            rc = lh__c_conclude(c, &oc, 0, c->oseq[i], o, 1, now_ns);
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
        return correlate_deploy(c, ev, seq, now_ns);
    case LH_KIND_ALERT:
    case LH_KIND_INCIDENT:
        return lh__c_correlate_outcome(c, ev, seq, now_ns);
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
    int rc =
        lh__c_last_good(c, ev->service, ev->environment, ev->time_ns, ev->deploy.deploy_id, &v);
    if (rc < 0 || !v)
        return rc;
    if (!(ev->deploy.previous_version = lh_event_str(ev, v, strlen(v))))
        return LH_ENOMEM;
    ev->deploy.previous_version_derived = 1;
    return 0;
}
