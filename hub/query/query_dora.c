/*
 * query_dora.c - `loophub dora`, GET /v1/dora: the DORA figures of a period, each with the
 * counts behind it and its performance band (docs/dora.md holds the definitions and a worked
 * example; this file follows it).
 *
 * Facts are read once, a row each, as the store keeps them at ingest (schema 8): the changes
 * whose first event is in the period (table `changes`: start, service, labels, and the packed
 * times lh_store_facts_t: first succeeded, failed, rolled back, commit time, first good deploy;
 * store_changes.c) and the incidents detected in the period and a week before it (index oc_dora
 * of the outcomes, which covers them), each with its highest severity, its top suspect and that
 * change's start. No event is decoded, but an incident's own, for its labels, by a label when
 * its suspect did not start in the period. On a store file the two are read at once, the
 * changes by a second thread with a connection of its own (read_period()). Then, in memory:
 *  - each counted incident is linked to its suspect's change, found by its start near the last
 *    one found (suspect_of()), by name only when that start is stale;
 *  - rework by an incident: one walk per service and environment of its changes in start order
 *    beside the incidents blamed on its changes in detection order (rework_by_incident(), on
 *    the second thread while this one does the next);
 *  - the first good deploy after each failure: from the changes' rows, and those of the changes
 *    that started within the longest change's span before the period; from ev_good only for a
 *    service whose change was redeployed, or a change the period holds none for (next_goods()).
 * By a label, an incident falls in the group of its top suspect (teams label their changes),
 * else in that of its own label. The figures are then computed per group (everything, a service,
 * or a label's value) and, with --every, per day or week; medians and p90 by selection. The
 * cost is a row per change and per incident of the period, nothing per pair (bench: `dora
 * --since 90d` on the 10M-event store, README Performance).
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/timeutil.h"
#include "query_internal.h"
#include "query_sql.h"

#define DAY_NS (24 * 3600 * LH_NS_PER_SEC)
#define HOUR_NS (3600 * LH_NS_PER_SEC)
#define INCIDENT_LOOKBACK_NS (7 * DAY_NS) /* incidents open when the period starts, for rework */

/* A change of the period: 112 bytes, as every walk of the report reads the whole array (its
 * service and environment are those of its number g, dora_t.gn). */
typedef struct {
    const char *deploy_id, *group; /* in the pool */
    int64_t started;               /* its first event */
    int64_t deployed;              /* its first succeeded event, 0: none */
    int64_t commit;                /* commit time, 0: unknown */
    int64_t failed;                /* its first failed event, 0: none */
    int64_t rolled;                /* its first rolled_back event, 0: none */
    int64_t incident;  /* the first counted incident it was the top suspect of: its detection */
    int64_t resolved;  /* the latest resolution of those incidents, 0 while one is open */
    int64_t next_good; /* the first succeeded deploy of the service after it broke, 0: none */
    int64_t start;     /* when it started to fail (failure_start()), 0: it did not */
    int64_t good;      /* its first succeeded deploy with a version, 0: none */
    uint32_t g;        /* the number of its service and environment (dora_t.groups, .gn) */
    uint32_t goods;    /* how many it had (at most UINT32_MAX) */
    uint8_t caused;    /* top suspect of a counted incident */
    uint8_t rework;
} dchange_t;

/* It reached an outcome: succeeded, failed or rolled back. */
static int
deployment(const dchange_t *c)
{
    return c->deployed || c->failed || c->rolled;
}

/* A service and environment's names. */
typedef struct {
    const char *service, *env;
} gname_t;

/* An incident of the period as read, counted (at or above the minimum severity: the others are
 * not kept): 64 bytes. */
typedef struct {
    const char *env, *suspect; /* the top suspect's deploy id */
    const char *service;       /* its own service */
    union {
        const char *id;    /* its id, by a label only, until it is linked */
        const char *group; /* once linked */
    } u;
    int64_t time, resolved; /* resolved 0: open */
    int64_t top_started;    /* its top suspect's start when it was concluded */
    uint32_t change;        /* its top suspect's change among the period's, + 1 (0: none) */
    uint32_t g; /* the number of the suspect's service and environment (dora_t.groups), 0 */
} dincident_t;

/* A counted incident once linked, as the walks and the figures read it: 40 bytes, packed over
 * the incidents read (counted()). */
typedef struct {
    int64_t time, resolved;      /* resolved 0: open */
    const char *suspect, *group; /* its top suspect's deploy id (NULL: none); its group */
    uint32_t change;             /* the suspect's change among the period's + 1, 0: none */
    uint32_t g;                  /* the suspect's service and environment, 0: none known */
} cinc_t;

/* Strings of the report, copied once into blocks that never move. */
typedef struct pool_block {
    struct pool_block *next;
    size_t used, cap;
    char data[];
} pool_block_t;

/* A map from a pair of strings (either NULL) to an index + 1, open addressing. */
typedef struct {
    const char *a, *b;
    uint64_t h;
    size_t v; /* 0: empty slot */
} slot_t;

typedef struct {
    slot_t *s;
    size_t mask, n; /* n: the keys in it (a map made growable grows at half full) */
    int grows;
} pmap_t;

/* The changes by (deploy id, environment): a slot is its hash's high half and the change's
 * index + 1, the key itself is read from the change (8 bytes a slot keep the table small). */
typedef struct {
    uint32_t tag, v;
} cslot_t;

typedef struct {
    cslot_t *s;
    size_t mask;
} cmap_t;

typedef struct {
    dchange_t *c;
    size_t n, cap;
    dincident_t *i;
    size_t ni, capi;
    cinc_t *k; /* the counted incidents, in detection order (counted()) */
    size_t nk;
    pool_block_t *pool;
    cmap_t changes; /* (deploy id, environment) -> change */
    pmap_t groups;  /* (service, environment) -> its number (svc_env_t.g, 1..ng) */
    size_t ng;
    gname_t *gn; /* by number, 1..ng */
    size_t gcap;
    pmap_t names;             /* an incident's (service, environment), each pair copied once */
    pool_block_t *names_pool; /* the names of groups and names */
    int64_t *starts;          /* each change's start, for started_from() (link_all()) */
    sqlite3 *twin;            /* the store's second connection, for a second thread; or NULL */
    pthread_mutex_t *mu;      /* guards the making of `changes`, while two threads link */
} dora_t;

/* A copy of s in the pool (NULL for NULL). */
static const char *
pool_put(qctx_t *q, pool_block_t **pool, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    pool_block_t *b = *pool;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (!(b = malloc(sizeof(*b) + cap))) {
            q->err = LH_ENOMEM;
            return NULL;
        }
        b->next = *pool;
        b->used = 0;
        b->cap = cap;
        *pool = b;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    b->used += n;
    return p;
}

static const char *
pool_dup(qctx_t *q, dora_t *d, const char *s)
{
    return pool_put(q, &d->pool, s);
}

/* A service's or an environment's name, in a pool of their own: the few thousand names the maps
 * compare at every row stay together in the cache, not among the ids. */
static const char *
name_dup(qctx_t *q, dora_t *d, const char *s)
{
    return pool_put(q, &d->names_pool, s);
}

/* Moves the blocks of *from into *into. */
static void
pool_splice(pool_block_t **into, pool_block_t **from)
{
    pool_block_t **tail = from;
    while (*tail)
        tail = &(*tail)->next;
    *tail = *into;
    *into = *from;
    *from = NULL;
}

static int
same(const char *x, const char *y)
{
    return x == y || (x && y && !strcmp(x, y));
}

/* A string's hash, eight bytes at a time (the report hashes half a million ids; FNV's byte at a
 * time was a tenth of its time), seeded with h. Not for anything outside this file. */
static uint64_t
hash_str(uint64_t h, const char *s)
{
    size_t n = strlen(s);
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    for (; n >= 8; n -= 8, s += 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * k;
    return h ^ (h >> 32);
}

static uint64_t
hash_pair(const char *a, const char *b)
{
    uint64_t h = a ? hash_str(LH__HASH64_SEED, a) : 1;
    h = b ? hash_str(h ^ 0x5bd1e995, b) : h * 31 + 7;
    return lh__hash64_final(h);
}

/* A map for n keys; grows: it starts small and doubles at half full (for few distinct keys
 * among many lookups, so that it stays in the cache). */
static void
pmap_init(qctx_t *q, pmap_t *m, size_t n, int grows)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    if (!(m->s = calloc(cap, sizeof(*m->s))))
        q->err = LH_ENOMEM;
    m->mask = cap - 1;
    m->n = 0;
    m->grows = grows;
}

static size_t
pmap_find(const pmap_t *m, const char *a, const char *b, uint64_t h)
{
    size_t i = (size_t)h & m->mask;
    while (m->s[i].v && !(m->s[i].h == h && same(m->s[i].a, a) && same(m->s[i].b, b)))
        i = (i + 1) & m->mask;
    return i;
}

/* The value slot of (a, b), made empty (0) when new: the caller sets it, non-zero, before
 * the next call. The strings must outlive the map. NULL when out of memory. */
static slot_t *
pmap_at(qctx_t *q, pmap_t *m, const char *a, const char *b)
{
    uint64_t h = hash_pair(a, b);
    size_t i = pmap_find(m, a, b, h);
    if (m->s[i].v)
        return &m->s[i];
    if (m->grows && 2 * (m->n + 1) > m->mask + 1) {
        pmap_t g = {calloc(2 * (m->mask + 1), sizeof(*m->s)), 2 * m->mask + 1, m->n, 1};
        if (!g.s) {
            q->err = LH_ENOMEM;
            return NULL;
        }
        for (size_t k = 0; k <= m->mask; k++)
            if (m->s[k].v)
                g.s[pmap_find(&g, m->s[k].a, m->s[k].b, m->s[k].h)] = m->s[k];
        free(m->s);
        *m = g;
        i = pmap_find(m, a, b, h);
    }
    m->s[i] = (slot_t){a, b, h, 0};
    m->n++;
    return &m->s[i];
}

/* The value of (a, b), 0 when absent. */
static size_t
pmap_get(const pmap_t *m, const char *a, const char *b)
{
    uint64_t h = hash_pair(a, b);
    for (size_t i = (size_t)h & m->mask; m->s[i].v; i = (i + 1) & m->mask)
        if (m->s[i].h == h && same(m->s[i].a, a) && same(m->s[i].b, b))
            return m->s[i].v;
    return 0;
}

/* The group of a change or an incident: its service, its service and environment
 * ("svc\x1fenv", in buf), a label's value ("(none)" without it), or NULL (everything
 * together). The labels: a change's row's (a JSON object), or an incident's events. */
static const char *
group_of(const lh_report_req_t *r, const json_t *labels, lh_event_t *const *ev, size_t n,
         const char *service, const char *env, char *buf, size_t len)
{
    if (!r->by)
        return NULL;
    if (!strcmp(r->by, "service"))
        return service;
    if (!strcmp(r->by, "service+env")) {
        snprintf(buf, len, "%s\x1f%s", service ? service : "", env ? env : "");
        return buf;
    }
    const char *key = r->by + strlen("label:"),
               *v = json_string_value(json_object_get(labels, key));
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; l < ev[i]->n_labels; l++)
            if (!strcmp(ev[i]->labels[l].key, key))
                v = ev[i]->labels[l].value;
    return v ? v : "(none)";
}

/* Whether an environment's changes and incidents are this pass's (qctx_t.envs): the one group
 * by service+env that NULL and "" make is never split. */
static int
env_in_pass(const qctx_t *q, const char *env)
{
    const char *e = env ? env : "";
    return !q->n_envs || bsearch(&e, q->envs, q->n_envs, sizeof(*q->envs), lh__q_cmp_str);
}

/* p with room for n elements of size at least (doubling), *cap updated; NULL (q->err) when out
 * of memory, p then unchanged. */
static void *
grow_to(qctx_t *q, void *p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return p;
    size_t c = *cap ? *cap : 256;
    while (c < n)
        c *= 2;
    void *np = realloc(p, c * size);
    if (!np) {
        q->err = LH_ENOMEM;
        return NULL;
    }
    *cap = c;
    return np;
}

/* Numbers slot g's pair (its names in it) as a new service and environment. */
static void
new_group(qctx_t *q, dora_t *d, slot_t *g)
{
    gname_t *gn = grow_to(q, d->gn, &d->gcap, d->ng + 2, sizeof(*gn));
    if (!gn)
        return;
    d->gn = gn;
    g->v = ++d->ng;
    gn[g->v] = (gname_t){g->a, g->b};
}

/* The changes that started in [from, to], one row each (table `changes`), in start order. */
static void
take_changes(qctx_t *q, dora_t *d, int64_t from, int64_t to)
{
    const lh_report_req_t *r = q->rreq;
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_DORA_CHANGES);
    char *ekey = NULL;
    if (s && r->environment && (ekey = malloc(strlen(r->environment) + 2)) == NULL)
        q->err = LH_ENOMEM;
    if (s && !q->err) {
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, to);
        lh__q_bind_text(s, 3, r->service);
        if (ekey)
            snprintf(ekey, strlen(r->environment) + 2, "e%s", r->environment);
        lh__q_bind_text(s, 4, ekey);
    }
    int labels = r->by && !strncmp(r->by, "label:", 6);
    if (s)
        sqlite3_bind_int(s, 5, labels);
    if (!d->groups.s)
        pmap_init(q, &d->groups, 256, 1);
    while (s && !q->err && lh__q_step(q, s)) {
        const char *ek = lh__q_col_text(s, 2), *svc = lh__q_col_text(s, 3);
        const char *env = ek && ek[0] == 'e' ? ek + 1 : NULL;
        if (!env_in_pass(q, env))
            continue;
        dchange_t *nc = d->n < UINT32_MAX - 1 ? grow_to(q, d->c, &d->cap, d->n + 1, sizeof(*nc))
                                              : NULL; /* the walks number them in 32 bits */
        if (!nc) {
            q->err = LH_ENOMEM;
            break;
        }
        d->c = nc;
        dchange_t *c = &d->c[d->n++];
        memset(c, 0, sizeof(*c));
        c->started = sqlite3_column_int64(s, 0);
        c->deploy_id = pool_dup(q, d, lh__q_col_text(s, 1));
        /* its service and environment, each pair copied once: the group of the walks below */
        slot_t *g = pmap_at(q, &d->groups, svc, env);
        if (!g)
            break;
        if (!g->v) {
            g->a = name_dup(q, d, svc);
            g->b = name_dup(q, d, env);
            new_group(q, d, g);
            if (q->err)
                break;
        }
        c->g = (uint32_t)g->v;
        lh_store_facts_t fa;
        lh_store_facts_decode(sqlite3_column_blob(s, 4), (size_t)sqlite3_column_bytes(s, 4), &fa);
        c->deployed = fa.deployed;
        c->failed = fa.failed;
        c->rolled = fa.rolled;
        c->commit = fa.commit;
        c->good = fa.good;
        c->goods = fa.goods > UINT32_MAX ? UINT32_MAX : (uint32_t)fa.goods;
        json_t *lab = NULL;
        const char *lt = labels ? lh__q_col_text(s, 5) : NULL;
        if (lt && !(lab = json_loads(lt, 0, NULL)))
            q->err = LH_ENOMEM; /* the store wrote it as JSON */
        char gb[512];
        c->group = pool_dup(q, d, group_of(r, lab, NULL, 0, g->a, g->b, gb, sizeof(gb)));
        json_decref(lab);
    }
    sqlite3_finalize(s);
    free(ekey);
}

/* The table of the changes by (deploy id, environment), made on first use. */
static void
changes_table(qctx_t *q, dora_t *d)
{
    size_t cap = 16;
    while (cap < 2 * d->n + 2)
        cap *= 2;
    if (!(d->changes.s = calloc(cap, sizeof(*d->changes.s)))) {
        q->err = LH_ENOMEM;
        return;
    }
    d->changes.mask = cap - 1;
    for (size_t k = 0; k < d->n; k++) { /* each key once: a row of the table */
        uint64_t h = hash_pair(d->c[k].deploy_id, d->gn[d->c[k].g].env);
        size_t i = (size_t)h & d->changes.mask;
        while (d->changes.s[i].v)
            i = (i + 1) & d->changes.mask;
        d->changes.s[i] = (cslot_t){(uint32_t)(h >> 32), (uint32_t)(k + 1)};
    }
}

/* The change (deploy id, environment) among the period's: its index + 1, 0 when absent. */
static size_t
change_of(qctx_t *q, dora_t *d, const char *deploy_id, const char *env)
{
    if (d->mu) /* the table is made by whichever thread needs it first */
        pthread_mutex_lock(d->mu);
    if (!d->changes.s)
        changes_table(q, d);
    if (d->mu)
        pthread_mutex_unlock(d->mu);
    if (!d->changes.s)
        return 0;
    uint64_t h = hash_pair(deploy_id, env);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & d->changes.mask; d->changes.s[i].v; i = (i + 1) & d->changes.mask) {
        const cslot_t *e = &d->changes.s[i];
        if (e->tag == tag && same(d->c[e->v - 1].deploy_id, deploy_id) &&
            same(d->gn[d->c[e->v - 1].g].env, env))
            return e->v;
    }
    return 0;
}

/* The first of the changes (in their order: by start) that started at or after t, searched from
 * *hint outwards (the suspects of incidents in time order start in about that order too, so
 * this reads the few rows around the last one found). */
static size_t
started_from(const dora_t *d, size_t *hint, int64_t t)
{
    const int64_t *st = d->starts; /* 8 bytes a change: the probes stay in the cache */
    size_t n = d->n, lo, hi;       /* the answer is in (lo, hi]: c[lo] < t <= c[hi], in spirit */
    size_t h = *hint < n ? *hint : (n ? n - 1 : 0);
    if (!n)
        return 0;
    if (st[h] < t) {
        size_t step = 1;
        lo = h;
        while (lo + step < n && st[lo + step] < t) {
            lo += step;
            step *= 2;
        }
        hi = lo + step < n ? lo + step : n;
        lo++; /* c[lo - 1] < t */
    } else {
        size_t step = 1;
        hi = h;
        while (hi >= step && st[hi - step] >= t) {
            hi -= step;
            step *= 2;
        }
        lo = hi >= step ? hi - step + 1 : 0; /* c[lo - 1] < t, or lo 0 */
    }
    while (lo < hi) { /* the first in [lo, hi) with started >= t, else hi */
        size_t mid = lo + (hi - lo) / 2;
        if (st[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *hint = lo;
    return lo;
}

/* The suspect change (deploy id, environment) that started at t: its index + 1, 0 when the
 * period has none such (then change_of() looks for it by name: t may be stale, when an older
 * event of the change arrived after the incident was concluded). */
static size_t
suspect_of(qctx_t *q, dora_t *d, size_t *hint, int64_t t, const char *deploy_id, const char *env)
{
    for (size_t k = started_from(d, hint, t); k < d->n && d->c[k].started == t; k++)
        if (same(d->c[k].deploy_id, deploy_id) && same(d->gn[d->c[k].g].env, env))
            return k + 1;
    /* t is the change's start when it was concluded: an older event since can only have moved
     * it earlier, so a change that started before the period then is not in it now */
    return t >= q->from ? change_of(q, d, deploy_id, env) : 0;
}

/* The incidents detected in [from, to] (the period and a week before it, for rework) of the
 * request's service and environment, in detection order, with their severity and top suspect
 * as the store keeps them; link_incidents() then finds the suspects' changes. */
static void
take_incidents(qctx_t *q, dora_t *d, int64_t from, int64_t to)
{
    const lh_report_req_t *r = q->rreq;
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_DORA_INCIDENTS);
    int labels = r->by && !strncmp(r->by, "label:", 6);
    if (s) {
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, to);
        sqlite3_bind_int(s, 3, labels);
    }
    if (s && !d->names.s)
        pmap_init(q, &d->names, 256, 1);
    while (s && !q->err && lh__q_step(q, s)) {
        const char *svc = lh__q_col_text(s, 0), *env = lh__q_col_text(s, 1);
        if ((r->service && (!svc || strcmp(svc, r->service))) ||
            (r->environment && (!env || strcmp(env, r->environment))) || !env_in_pass(q, env))
            continue;
        int sev = sqlite3_column_int(s, 5);
        if (sev != LH_SEV_UNSPECIFIED && sev < r->min_severity)
            continue; /* not counted: no figure reads it */
        dincident_t *ni = grow_to(q, d->i, &d->capi, d->ni + 1, sizeof(*ni));
        if (!ni)
            break;
        d->i = ni;
        slot_t *nm = pmap_at(q, &d->names, svc, env);
        if (!nm)
            break;
        if (!nm->v) {
            nm->a = name_dup(q, d, svc);
            nm->b = name_dup(q, d, env);
            nm->v = 1;
        }
        dincident_t *x = &d->i[d->ni++];
        memset(x, 0, sizeof(*x));
        x->service = nm->a;
        x->env = nm->b;
        x->time = sqlite3_column_int64(s, 2);
        x->resolved = sqlite3_column_int(s, 3) ? 0 : sqlite3_column_int64(s, 4);
        x->suspect = pool_dup(q, d, lh__q_col_text(s, 6));
        x->u.id = labels ? pool_dup(q, d, lh__q_col_text(s, 7)) : NULL;
        x->top_started = sqlite3_column_int64(s, 8);
    }
    sqlite3_finalize(s);
}

/* Each incident of [j0, j1)'s top suspect: its change when it started in the period (the
 * change's strings and group serve), else its service from its deploy event; and the incident's
 * group. The strings it copies go to *pool. */
static void
link_incidents(qctx_t *q, dora_t *d, size_t j0, size_t j1, pool_block_t **pool)
{
    const lh_report_req_t *r = q->rreq;
    sqlite3_stmt *top = lh__q_prep(q, LH_Q_DORA_SUSPECT_SERVICE), *ev = NULL;
    int labels = r->by && !strncmp(r->by, "label:", 6);
    size_t hint = 0;
    for (size_t j = j0; top && !q->err && j < j1; j++) {
        dincident_t *x = &d->i[j];
        size_t k = x->suspect ? suspect_of(q, d, &hint, x->top_started, x->suspect, x->env) : 0;
        x->change = (uint32_t)k;
        if (k) {
            const dchange_t *c = &d->c[k - 1];
            x->suspect = c->deploy_id;
            x->env = d->gn[c->g].env;
            x->g = c->g;
        } else if (x->suspect) {
            sqlite3_reset(top);
            lh__q_bind_text(top, 1, x->suspect);
            lh__q_bind_text(top, 2, x->env);
            const char *ss = lh__q_step(q, top) ? lh__q_col_text(top, 0) : NULL;
            x->g = (uint32_t)pmap_get(&d->groups, ss, x->env);
        }
        /* by a label, an incident falls in its top suspect's group (teams label their
         * changes), else in that of its own label: only then are its events read */
        char gb[512];
        if (labels && k) {
            x->u.group = d->c[k - 1].group;
        } else if (labels) {
            if (!ev && !(ev = lh__q_prep(q, LH_Q_INCIDENT_EVENTS)))
                break;
            qlist_t l = {0};
            sqlite3_reset(ev);
            lh__q_bind_text(ev, 1, x->u.id);
            lh__q_load_events(q, ev, &l, 0);
            x->u.group =
                pool_put(q, pool, group_of(r, NULL, l.ev, l.n, x->service, x->env, gb, sizeof(gb)));
            lh__q_list_free(&l);
        } else {
            x->u.group =
                pool_put(q, pool, group_of(r, NULL, NULL, 0, x->service, x->env, gb, sizeof(gb)));
        }
    }
    sqlite3_finalize(top);
    sqlite3_finalize(ev);
}

/* The second half of the incidents, linked on a thread of its own through the store's second
 * connection. */
typedef struct {
    qctx_t q;
    dora_t *d;
    size_t j0, j1;
    pool_block_t *pool;
} dlink_t;

static void *
link_run(void *arg)
{
    dlink_t *l = arg;
    link_incidents(&l->q, l->d, l->j0, l->j1, &l->pool);
    return NULL;
}

/* Every incident linked (link_incidents()): in two halves at once where the period was read on
 * two threads. */
static void
link_all(qctx_t *q, dora_t *d)
{
    if (!(d->starts = malloc((d->n + 1) * sizeof(*d->starts)))) {
        q->err = LH_ENOMEM;
        return;
    }
    for (size_t k = 0; k < d->n; k++)
        d->starts[k] = d->c[k].started;
    /* fewer are linked sooner than a thread starts */
    size_t few = lh__q_threads_mode == 2 ? 2 : 2048;
    size_t h = d->twin && d->mu && d->ni >= few ? d->ni / 2 : d->ni;
    dlink_t l = {.q = *q, .d = d, .j0 = h, .j1 = d->ni};
    l.q.db = d->twin;
    l.q.err = 0;
    l.q.unreadable = 0;
    pthread_t th;
    if (h < d->ni && pthread_create(&th, NULL, link_run, &l) != 0)
        h = d->ni; /* all of them here, then */
    link_incidents(q, d, 0, h, &d->pool);
    if (h < d->ni)
        pthread_join(th, NULL);
    pool_splice(&d->pool, &l.pool);
    if (l.q.err && !q->err)
        q->err = l.q.err;
    q->unreadable += l.q.unreadable;
}

/* The counted incidents, linked, in d->k (read in order by what follows), packed over d->i in
 * place (a cinc_t is smaller than a dincident_t: each is written below the incidents still to
 * be read); d->i is let go. */
static void
counted(qctx_t *q, dora_t *d)
{
    _Static_assert(sizeof(cinc_t) <= sizeof(dincident_t), "packed in place");
    char *to = (char *)d->i;
    for (size_t j = 0; j < d->ni; j++) {
        const dincident_t *x = &d->i[j];
        cinc_t k = {x->time, x->resolved, x->suspect, x->u.group, x->change, x->g};
        memcpy(to + j * sizeof(k), &k, sizeof(k));
    }
    d->nk = d->ni;
    d->k = (cinc_t *)(void *)d->i;
    cinc_t *k = d->k ? realloc(d->k, d->nk * sizeof(*k)) : malloc(sizeof(*k)); /* none read */
    if (k) /* else it stays as large as it was */
        d->k = k;
    else if (!d->k)
        q->err = LH_ENOMEM;
    d->i = NULL;
    d->ni = d->capi = 0;
}

/* --- reading the period on two threads ------------------------------------------------------ */

static void
dora_free(dora_t *d)
{
    for (pool_block_t *b = d->pool, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    for (pool_block_t *b = d->names_pool, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    sqlite3_close(d->twin);
    free(d->starts);
    free(d->gn);
    free(d->changes.s);
    free(d->groups.s);
    free(d->names.s);
    free(d->c);
    free(d->i);
    free(d->k);
    memset(d, 0, sizeof(*d));
}

/* The changes of the period are read in CHUNKS pieces of time, claimed from both ends: a thread
 * with a read-only connection of its own takes them from the first on, this one from the last
 * down once it has read the incidents, until they meet (each takes about what it has time for,
 * whichever is slower). Chunk k holds the changes that started in [bound(k), bound(k + 1)). */
#define CHUNKS 16

typedef struct {
    pthread_mutex_t mu;
    int front, back;        /* the chunks no one took yet: [front, back] */
    int64_t from, to;       /* the period */
    int64_t first, last;    /* its first and last change's start */
    size_t at[CHUNKS + 1];  /* this thread's: where its chunk k starts in its array */
    size_t end[CHUNKS + 1]; /* ... and ends */
} chunks_t;

static int64_t
bound(const chunks_t *c, int k)
{
    if (k == 0)
        return c->from;
    if (k == CHUNKS)
        return c->to + 1;
    return c->first + (c->last - c->first) / CHUNKS * k;
}

/* The next chunk from the front (else the back), -1 when none is left. */
static int
claim(chunks_t *c, int front)
{
    pthread_mutex_lock(&c->mu);
    int k = c->front > c->back ? -1 : front ? c->front++ : c->back--;
    pthread_mutex_unlock(&c->mu);
    return k;
}

typedef struct {
    qctx_t q;
    dora_t d;
    chunks_t *chunks;
} dpart_t;

static void *
read_part(void *arg)
{
    dpart_t *p = arg;
    for (int k; !p->q.err && (k = claim(p->chunks, 1)) >= 0;) {
        take_changes(&p->q, &p->d, bound(p->chunks, k), bound(p->chunks, k + 1) - 1);
        if (lh__q_threads_mode == 2)
            break;
    }
    return NULL;
}

/* The first and the last change's start in the period, each one step of the primary key: 0 when
 * there is nothing to share (no changes, or all at one time). */
static int
change_ends(qctx_t *q, chunks_t *c)
{
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_DORA_CHANGES_ENDS);
    int some = 0;
    if (s) {
        sqlite3_bind_int64(s, 1, c->from);
        sqlite3_bind_int64(s, 2, c->to);
        if (lh__q_step(q, s) && sqlite3_column_type(s, 0) != SQLITE_NULL) {
            c->first = sqlite3_column_int64(s, 0);
            c->last = sqlite3_column_int64(s, 1);
            some = c->last - c->first >= CHUNKS;
        }
    }
    sqlite3_finalize(s);
    return some;
}

/* Appends the changes [from, to) of t, which started after d's, to d's, with their services and
 * environments in d's numbers (their strings stay where they are: the caller keeps t's pool). */
static void
append_changes(qctx_t *q, dora_t *d, const dora_t *t, size_t from, size_t to)
{
    size_t n = to - from;
    dchange_t *c = grow_to(q, d->c, &d->cap, d->n + n, sizeof(*c));
    if (!c)
        return;
    d->c = c;
    if (!d->groups.s)
        pmap_init(q, &d->groups, 256, 1);
    for (size_t k = 0; !q->err && k < n; k++) {
        dchange_t *e = &c[d->n];
        *e = t->c[from + k];
        const gname_t *nm = &t->gn[e->g];
        slot_t *g = pmap_at(q, &d->groups, nm->service, nm->env);
        if (!g)
            break;
        if (!g->v) {
            g->a = nm->service;
            g->b = nm->env;
            new_group(q, d, g);
            if (q->err)
                break;
        }
        e->g = (uint32_t)g->v;
        d->n++;
    }
}

/* The changes that started in the period and the incidents detected in it and a week before
 * it, in time order. On a store file both are read at once: a thread with a read-only
 * connection of its own reads the changes, this one the incidents, then shares the changes
 * (chunks_t). Each statement reads its own snapshot of the store, as any two statements of a
 * report do. Serially when the store is not a file or a thread cannot be had. */
static void
read_period(qctx_t *q, dora_t *d)
{
    int64_t ifrom = q->from - INCIDENT_LOOKBACK_NS;
    chunks_t ch = {.from = q->from, .to = q->to};
    sqlite3 *db2 = change_ends(q, &ch) ? lh__q_open_twin(q) : NULL;
    if (!db2 || pthread_mutex_init(&ch.mu, NULL) != 0) { /* serially, then */
        sqlite3_close(db2);
        take_changes(q, d, q->from, q->to);
        if (!q->err)
            take_incidents(q, d, ifrom, q->to);
        return;
    }
    ch.back = CHUNKS - 1;
    dpart_t p = {.q = *q, .chunks = &ch};
    p.q.db = db2;
    p.q.err = 0;
    pthread_t th;
    int threaded = pthread_create(&th, NULL, read_part, &p) == 0;
    if (!threaded)
        read_part(&p); /* every chunk, then */
    take_incidents(q, d, ifrom, q->to);
    for (int k; !q->err && (k = claim(&ch, 0)) >= 0;) {
        ch.at[k] = d->n;
        take_changes(q, d, bound(&ch, k), bound(&ch, k + 1) - 1);
        ch.end[k] = d->n;
    }
    if (threaded)
        pthread_join(th, NULL);
    d->twin = db2; /* for link_all() */
    pthread_mutex_destroy(&ch.mu);
    if (p.q.err && !q->err)
        q->err = p.q.err;
    /* the thread's chunks (the first ones), then this one's in their order, become d's
     * changes; the incidents stay */
    for (int k = 0; !q->err && k < CHUNKS; k++)
        if (ch.end[k] > ch.at[k])
            append_changes(q, &p.d, d, ch.at[k], ch.end[k]);
    free(d->c);
    free(d->groups.s);
    free(d->gn);
    d->c = p.d.c;
    d->n = p.d.n;
    d->cap = p.d.cap;
    d->groups = p.d.groups;
    d->ng = p.d.ng;
    d->gn = p.d.gn;
    d->gcap = p.d.gcap;
    pool_splice(&d->pool, &p.d.pool); /* the thread's strings, now d's */
    pool_splice(&d->names_pool, &p.d.names_pool);
    memset(&p.d, 0, sizeof(p.d));
}

/* When change c started to fail, 0 when it did not: the earliest of the moment a rolled-back
 * change went live (its first succeeded event, else its first event), its failed event, and the
 * detection of the first counted incident it was the top suspect of. */
static int64_t
failure_start(const dchange_t *c)
{
    int64_t t = 0;
    const int64_t cand[] = {c->rolled ? (c->deployed ? c->deployed : c->started) : 0, c->failed,
                            c->caused ? c->incident : 0};
    for (int i = 0; i < 3; i++)
        if (cand[i] && (!t || cand[i] < t))
            t = cand[i];
    return t;
}

/* A change or a counted incident in its service and environment (the suspect's, for an
 * incident), for the walks below: g the pair's number (1..ng), i an index, t its time (16
 * bytes: the walks sort and read hundreds of thousands of them). */
typedef struct {
    uint32_t g, i;
    int64_t t;
} svc_env_t;

/* *v ordered by g, keeping the order of equal ones (a counting sort: v comes in time order from
 * the store, so each pair's run stays in time order); the array is replaced by a new one. */
static void
by_group(qctx_t *q, svc_env_t **v, size_t n, size_t ng)
{
    size_t *at = calloc(ng + 2, sizeof(*at));
    svc_env_t *tmp = malloc((n + 1) * sizeof(*tmp)), *in = *v;
    if (!at || !tmp) {
        q->err = LH_ENOMEM;
        free(at);
        free(tmp);
        return;
    }
    for (size_t k = 0; k < n; k++)
        at[in[k].g + 1]++;
    for (size_t g = 1; g <= ng + 1; g++)
        at[g] += at[g - 1];
    for (size_t k = 0; k < n; k++)
        tmp[at[in[k].g]++] = in[k];
    free(in);
    *v = tmp;
    free(at);
}

static int
cmp_time(const void *x, const void *y)
{
    const svc_env_t *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Sorts v[0..n) by time (then i). The runs sorted here come from the store in about that
 * order already (good deploys and failures follow their changes' starts), where an insertion
 * sort moves each item a step or two; past 8 moves an item on average it hands over to qsort. */
static void
sort_by_time(svc_env_t *v, size_t n)
{
    size_t moves = 0;
    for (size_t k = 1; k < n; k++) {
        svc_env_t x = v[k];
        size_t j = k;
        while (j > 0 && cmp_time(&x, &v[j - 1]) < 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
        moves += k - j;
        if (moves > 8 * n) {
            qsort(v, n, sizeof(*v), cmp_time);
            return;
        }
    }
}

/* One service and environment's broken changes f[m..j), in the order they broke, and those of
 * them waiting (wait[0..nw), indices into f) for a good deploy not their own. */
typedef struct {
    size_t m, j, nw;
} gwalk_t;

/* The good deploy at t, of change `own` (index + 1, or 0) or of deploy id did (NULL: by own),
 * of the walk's service: the changes that broke before it start waiting, and those waiting for
 * a deploy not their own have it. */
static void
good_seen(dora_t *d, const svc_env_t *f, size_t *wait, gwalk_t *w, int64_t t, size_t own,
          const char *did)
{
    while (w->m < w->j && f[w->m].t < t)
        wait[w->nw++] = w->m++;
    size_t kept = 0;
    for (size_t k = 0; k < w->nw; k++) {
        size_t m = wait[k];
        dchange_t *c = &d->c[f[m].i];
        if (did ? same(did, c->deploy_id) : own == f[m].i + 1)
            wait[kept++] = m; /* its own deploy: it waits on */
        else
            c->next_good = t;
    }
    w->nw = kept;
}

/* The good deploys of the period known from the changes' rows: each change's first, of the
 * period's changes and of those that started up to the longest change's span before it (no
 * change lasts longer, so no other can have a deploy in the period). Each is (g, whose: its
 * change's index + 1, or 0 for one from before the period, none of the period's; t), sorted by
 * service and environment, then time. A service and environment where some change had more than one
 * good deploy is marked in multi[] (its later ones are not in the rows: it reads ev_good). */
static svc_env_t *
goods_known(qctx_t *q, dora_t *d, int64_t after, size_t *n, char *multi)
{
    svc_env_t *v = malloc((d->n + 1) * sizeof(*v));
    size_t nv = 0, cap = d->n + 1;
    if (!v) {
        q->err = LH_ENOMEM;
        return NULL;
    }
    for (size_t k = 0; k < d->n; k++) {
        const dchange_t *c = &d->c[k];
        if (c->goods > 1)
            multi[c->g] = 1;
        if (c->good > after && c->good <= q->to)
            v[nv++] = (svc_env_t){c->g, (uint32_t)(k + 1), c->good};
    }
    /* the changes that started before the period, for their deploys inside it */
    sqlite3_stmt *sp = lh__q_prep(q, LH_Q_DORA_SPAN), *s = lh__q_prep(q, LH_Q_DORA_CHANGES);
    int64_t span = sp && lh__q_step(q, sp) ? sqlite3_column_int64(sp, 0) : 0;
    const lh_report_req_t *r = q->rreq;
    char *ekey = r->environment ? malloc(strlen(r->environment) + 2) : NULL;
    if (r->environment && !ekey)
        q->err = LH_ENOMEM;
    if (s && !q->err) {
        sqlite3_bind_int64(s, 1, q->from - span);
        sqlite3_bind_int64(s, 2, q->from - 1);
        lh__q_bind_text(s, 3, r->service);
        if (ekey)
            snprintf(ekey, strlen(r->environment) + 2, "e%s", r->environment);
        lh__q_bind_text(s, 4, ekey);
    }
    while (s && span > 0 && !q->err && lh__q_step(q, s)) {
        const char *ek = lh__q_col_text(s, 2);
        size_t g = pmap_get(&d->groups, lh__q_col_text(s, 3), ek && ek[0] == 'e' ? ek + 1 : NULL);
        if (!g)
            continue; /* a service and environment with no change in the period */
        lh_store_facts_t fa;
        lh_store_facts_decode(sqlite3_column_blob(s, 4), (size_t)sqlite3_column_bytes(s, 4), &fa);
        int64_t good = fa.good;
        if (fa.goods > 1)
            multi[g] = 1;
        if (good > after && good <= q->to) {
            svc_env_t *nvp = grow_to(q, v, &cap, nv + 1, sizeof(*v));
            if (!nvp)
                break;
            v = nvp;
            v[nv++] = (svc_env_t){(uint32_t)g, 0, good};
        }
    }
    sqlite3_finalize(sp);
    sqlite3_finalize(s);
    free(ekey);
    if (!q->err)
        by_group(q, &v, nv, d->ng);
    for (size_t i = 0, j; !q->err && i < nv; i = j) {
        for (j = i; j < nv && v[j].g == v[i].g;)
            j++;
        sort_by_time(v + i, j - i);
    }
    *n = nv;
    return v;
}

/* For every change that broke its service, the first succeeded deploy of another change of the
 * service after it broke. Per service and environment the broken changes, in the order they
 * broke, are walked beside the service's good deploys in time order: a change waits from when
 * it broke for the first good deploy that is not its own. The good deploys come from the
 * changes' rows (goods_known()); where a change had several, from one range of ev_good, read
 * only until every broken change has its answer. A change the period holds none for asks the
 * store for the first after the period (ev_good). */
static void
next_goods(qctx_t *q, dora_t *d)
{
    svc_env_t *f = malloc((d->n + 1) * sizeof(*f));
    size_t *wait = malloc((d->n + 1) * sizeof(*wait)); /* indices into f */
    char *multi = calloc(d->ng + 1, 1);
    sqlite3_stmt *gs = lh__q_prep(q, LH_Q_DORA_GOODS), *after = lh__q_prep(q, LH_Q_DORA_NEXT_GOOD);
    size_t n = 0, ng = 0;
    int64_t first = INT64_MAX;
    if (!f || !wait || !multi)
        q->err = LH_ENOMEM;
    for (size_t k = 0; !q->err && k < d->n; k++)
        if (d->c[k].start) {
            f[n++] = (svc_env_t){d->c[k].g, (uint32_t)k, d->c[k].start};
            if (d->c[k].start < first)
                first = d->c[k].start;
        }
    svc_env_t *g = n && !q->err ? goods_known(q, d, first, &ng, multi) : NULL;
    if (!q->err)
        by_group(q, &f, n, d->ng);
    for (size_t i = 0, j, p = 0; gs && after && !q->err && i < n; i = j) {
        for (j = i; j < n && f[j].g == f[i].g;)
            j++;
        sort_by_time(f + i, j - i); /* by when they broke */
        size_t grp = f[i].g;
        while (p < ng && g[p].g < grp)
            p++;
        gwalk_t w = {i, j, 0};
        if (!multi[grp]) {
            for (; p < ng && g[p].g == grp && (w.m < w.j || w.nw); p++)
                good_seen(d, f, wait, &w, g[p].t, g[p].i, NULL);
            continue;
        }
        const dchange_t *c0 = &d->c[f[i].i];
        sqlite3_reset(gs);
        lh__q_bind_text(gs, 1, d->gn[c0->g].service);
        lh__q_bind_text(gs, 2, d->gn[c0->g].env);
        sqlite3_bind_int64(gs, 3, f[i].t);
        sqlite3_bind_int64(gs, 4, q->to);
        while (!q->err && (w.m < w.j || w.nw) && lh__q_step(q, gs))
            good_seen(d, f, wait, &w, sqlite3_column_int64(gs, 0), 0, lh__q_col_text(gs, 1));
    }
    /* a good deploy after the period, for the changes the walks found none for: only where the
     * store holds an event after the period (one step of ev_time) */
    int later = 0;
    for (size_t k = 0; !later && k < n; k++)
        later = !d->c[f[k].i].next_good;
    sqlite3_stmt *lt = later ? lh__q_prep(q, LH_Q_LATEST_TIME) : NULL;
    if (lt)
        later = lh__q_step(q, lt) && sqlite3_column_type(lt, 0) != SQLITE_NULL &&
                sqlite3_column_int64(lt, 0) > q->to;
    sqlite3_finalize(lt);
    for (size_t k = 0; later && after && !q->err && k < n; k++) {
        dchange_t *c = &d->c[f[k].i];
        if (c->next_good)
            continue;
        sqlite3_reset(after);
        lh__q_bind_text(after, 1, d->gn[c->g].service);
        lh__q_bind_text(after, 2, d->gn[c->g].env);
        sqlite3_bind_int64(after, 3, c->start);
        lh__q_bind_text(after, 4, c->deploy_id);
        if (lh__q_step(q, after))
            c->next_good = sqlite3_column_int64(after, 0);
    }
    sqlite3_finalize(gs);
    sqlite3_finalize(after);
    free(g);
    free(multi);
    free(wait);
    free(f);
}

/* A counted incident with a suspect, as the rework walk reads it (packed in group order, so
 * that the walk reads them in a row). */
typedef struct {
    int64_t t, end;      /* detected; resolved (INT64_MAX: open) */
    const char *suspect; /* its top suspect's deploy id */
    size_t change;       /* the suspect's change among the period's + 1, 0: none of them */
} rinc_t;

/* Whether two incidents blame the same change. A suspect that started in the period is that
 * change (the same (deploy id, environment) is the same change); one that did not is none of
 * those, so only two of them are compared by name. */
static int
same_suspect(const rinc_t *a, const rinc_t *b)
{
    if (a->change || b->change)
        return a->change == b->change;
    return same(a->suspect, b->suspect);
}

/* Rework by an incident: whether change c started while a counted incident blamed on another
 * change of its service and environment was unresolved. Per service and environment, the changes
 * in the order they started and the incidents in the order they were detected are walked
 * together; of the incidents detected so far it keeps the two that end latest (open: never)
 * with different suspects, which is enough to answer "one that ends after t, of a suspect
 * other than c". */
static void
rework_by_incident(qctx_t *q, dora_t *d)
{
    size_t ng = d->ng, nc = 0;
    svc_env_t *cs = malloc((d->n + 1) * sizeof(*cs));
    char *rw = malloc(d->n + 1); /* each change's rework, walked in group order: a byte each */
    size_t *at = calloc(ng + 2, sizeof(*at)); /* then group g's incidents: is[at[g], at[g + 1]) */
    rinc_t *is = NULL;
    if (!cs || !rw || !at)
        q->err = LH_ENOMEM;
    for (size_t k = 0; !q->err && k < d->n; k++) {
        cs[nc++] = (svc_env_t){d->c[k].g, (uint32_t)k, d->c[k].started};
        rw[k] = (char)d->c[k].rework;
    }
    /* the incidents by group (a counting sort, each group's in detection order) */
    for (size_t j = 0; !q->err && j < d->nk; j++) {
        const cinc_t *x = &d->k[j];
        if (x->suspect && x->g)
            at[x->g]++;
    }
    for (size_t g = 1; !q->err && g <= ng + 1; g++)
        at[g] += at[g - 1];
    if (!q->err && !(is = malloc((at[ng + 1] + 1) * sizeof(*is))))
        q->err = LH_ENOMEM;
    for (size_t j = d->nk; !q->err && j-- > 0;) { /* from the last: at[g] ends at g's first */
        const cinc_t *x = &d->k[j];
        if (x->suspect && x->g)
            is[--at[x->g]] =
                (rinc_t){x->time, x->resolved ? x->resolved : INT64_MAX, x->suspect, x->change};
    }
    if (!q->err)
        by_group(q, &cs, nc, ng);
    for (size_t m = 0; !q->err && m < nc;) {
        size_t g = cs[m].g, p = at[g], pend = at[g + 1];
        int64_t end1 = INT64_MIN, end2 = INT64_MIN; /* latest ends, different suspects */
        const rinc_t *x1 = NULL;                    /* the one that ends at end1 */
        for (; m < nc && cs[m].g == g; m++) {
            int64_t started = cs[m].t;
            for (; p < pend && is[p].t <= started; p++) {
                const rinc_t *x = &is[p];
                int64_t e = x->end;
                if (x1 && same_suspect(x, x1)) {
                    if (e > end1)
                        end1 = e;
                } else if (e > end1) {
                    end2 = end1;
                    end1 = e;
                    x1 = x;
                } else if (e > end2) {
                    end2 = e;
                }
            }
            if (!rw[cs[m].i])
                rw[cs[m].i] = (end1 > started && x1->change != cs[m].i + 1) || end2 > started;
        }
    }
    for (size_t k = 0; !q->err && k < d->n; k++)
        d->c[k].rework = rw[k];
    free(rw);
    free(cs);
    free(is);
    free(at);
}

typedef struct {
    qctx_t q; /* its own error */
    dora_t *d;
} rework_t;

static void *
rework_run(void *arg)
{
    rework_t *rw = arg;
    rework_by_incident(&rw->q, rw->d);
    return NULL;
}

/* What the incidents say of each change: failures it caused, when they were resolved, rework;
 * and when the service recovered from a change that broke it. Each fact is found through the
 * incident's link to its suspect's change (take_incidents()) or a walk of both lists in order,
 * never by a scan of the other list per item. */
static void
link_facts(qctx_t *q, dora_t *d)
{
    /* each counted incident into its top suspect's change: the first detection, the latest
     * resolution, or open (resolved 0 then) while one is */
    char *open = calloc(d->n + 1, 1);
    if (!open)
        q->err = LH_ENOMEM;
    for (size_t j = 0; !q->err && j < d->nk; j++) {
        const cinc_t *x = &d->k[j];
        if (!x->change)
            continue;
        dchange_t *c = &d->c[x->change - 1];
        if (!c->caused || x->time < c->incident)
            c->incident = x->time;
        c->caused = 1;
        if (!x->resolved)
            open[x->change - 1] = 1;
        else if (x->resolved > c->resolved)
            c->resolved = x->resolved;
    }
    for (size_t k = 0; k < d->n && !q->err; k++) {
        dchange_t *c = &d->c[k];
        if (open[k])
            c->resolved = 0;
        /* rework: a rollback, or (below) a deploy of the service while an incident blamed on
         * another of its changes was unresolved */
        c->rework = c->rolled != 0;
        c->start = failure_start(c);
    }
    free(open);
    if (q->err)
        return;
    /* rework on a thread of its own beside next_goods(): the one writes c->rework, the other
     * c->next_good, and both only read the rest */
    rework_t rw = {.q = *q, .d = d};
    rw.q.err = 0;
    pthread_t th;
    int threaded = lh__q_threads_mode != 1 && pthread_create(&th, NULL, rework_run, &rw) == 0;
    if (!threaded)
        rework_by_incident(&rw.q, d);
    next_goods(q, d);
    if (threaded)
        pthread_join(th, NULL);
    if (rw.q.err && !q->err)
        q->err = rw.q.err;
}

/* --- figures -------------------------------------------------------------------------------- */

/* Puts the k-th smallest of v[0..n) at v[k], the smaller ones before it and the larger after
 * (Hoare's selection: linear on average, where sorting every lead time was the report's
 * largest cost). */
static void
select_kth(int64_t *v, size_t n, size_t kk)
{
    ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, k = (ptrdiff_t)kk;
    while (l < r) {
        int64_t x = v[k];
        ptrdiff_t i = l, j = r;
        do {
            while (v[i] < x)
                i++;
            while (x < v[j])
                j--;
            if (i <= j) {
                int64_t t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        } while (i <= j);
        if (j < k)
            l = i;
        if (k < i)
            r = j;
    }
}

/* {"n", "median_seconds", "p90_seconds"} of v[0..n) (reordered here): the median is the middle
 * value (the mean of the two middle ones for an even count), p90 the nearest rank. */
static json_t *
distribution(qctx_t *q, int64_t *v, size_t n, int64_t *median)
{
    json_t *o = json_object();
    lh__q_jset(q, o, "n", json_integer((json_int_t)n));
    *median = 0;
    if (n) {
        size_t r = (size_t)ceil(0.9 * (double)n);
        select_kth(v, n, r - 1);
        int64_t p90 = v[r - 1];
        select_kth(v, n, n / 2);
        int64_t hi = v[n / 2];
        if (n % 2) {
            *median = hi;
        } else {
            int64_t lo = v[0]; /* the largest of those below n / 2 */
            for (size_t i = 1; i < n / 2; i++)
                if (v[i] > lo)
                    lo = v[i];
            *median = lo + (hi - lo) / 2;
        }
        lh__q_jset(q, o, "median_seconds", json_integer(*median / LH_NS_PER_SEC));
        lh__q_jset(q, o, "p90_seconds", json_integer(p90 / LH_NS_PER_SEC));
    } else {
        lh__q_jset(q, o, "median_seconds", json_null());
        lh__q_jset(q, o, "p90_seconds", json_null());
    }
    return o;
}

/* The bands of the Accelerate State of DevOps Report 2024 (docs/dora.md). */
static json_t *
band_frequency(double per_day)
{
    return json_string(per_day > 1.0         ? "elite"
                       : per_day >= 1.0 / 7  ? "high"
                       : per_day >= 1.0 / 30 ? "medium"
                       : per_day > 0         ? "low"
                                             : "low");
}

static json_t *
band_lead(int64_t median, size_t n)
{
    if (!n)
        return json_null();
    return json_string(median < DAY_NS        ? "elite"
                       : median < 7 * DAY_NS  ? "high"
                       : median < 30 * DAY_NS ? "medium"
                                              : "low");
}

static json_t *
band_cfr(size_t failed, size_t n)
{
    if (!n)
        return json_null();
    double r = (double)failed / (double)n;
    return json_string(r <= 0.05 ? "elite" : r <= 0.20 ? "high" : "low");
}

static json_t *
band_recovery(int64_t median, size_t n)
{
    if (!n)
        return json_null();
    return json_string(median < HOUR_NS ? "elite" : median < DAY_NS ? "high" : "low");
}

static json_t *
rate(qctx_t *q, const char *num, size_t a, size_t b, json_t *band)
{
    json_t *o = json_object();
    lh__q_jset(q, o, num, json_integer((json_int_t)a));
    lh__q_jset(q, o, "deployments", json_integer((json_int_t)b));
    lh__q_jset(q, o, "rate",
               b ? json_real(round((double)a / (double)b * 10000.0) / 10000.0) : json_null());
    lh__q_jset(q, o, "band", band);
    return o;
}

/* The changes and the counted incidents of one group: indices into d->c and d->k. */
typedef struct {
    const uint32_t *c, *i;
    size_t nc, ni;
} members_t;

/* The figures over [from, to] of the changes and incidents of m (NULL: all of them). */
static json_t *
figures(qctx_t *q, const dora_t *d, const members_t *mb, int64_t from, int64_t to)
{
    size_t nc = mb ? mb->nc : d->n, ni = mb ? mb->ni : d->nk;
    size_t n = nc > ni ? nc : ni;
    int64_t *lead = calloc(n + 1, sizeof(int64_t)), *rec = calloc(n + 1, sizeof(int64_t));
    int64_t *ttr = calloc(n + 1, sizeof(int64_t));
    json_t *o = json_object();
    if (!lead || !rec || !ttr || !o) {
        q->err = LH_ENOMEM;
        free(lead);
        free(rec);
        free(ttr);
        json_decref(o);
        return NULL;
    }
    size_t deps = 0, nlead = 0, failed = 0, nrec = 0, unrec = 0, rework = 0, nttr = 0, open = 0;
    for (size_t m = 0; m < nc; m++) {
        const dchange_t *c = &d->c[mb ? mb->c[m] : m];
        if (!deployment(c) || c->started < from || c->started > to)
            continue;
        deps++;
        if (c->commit && c->deployed)
            lead[nlead++] = c->deployed > c->commit ? c->deployed - c->commit : 0;
        int64_t start = c->start;
        if (start) {
            failed++;
            int64_t end = 0;
            const int64_t cand[] = {c->rolled >= start ? c->rolled : 0, c->next_good,
                                    c->caused ? c->resolved : 0};
            for (int i = 0; i < 3; i++)
                if (cand[i] && (!end || cand[i] < end))
                    end = cand[i];
            if (end)
                rec[nrec++] = end - start;
            else
                unrec++;
        }
        rework += (size_t)c->rework;
    }
    for (size_t m = 0; m < ni; m++) {
        const cinc_t *x = &d->k[mb ? mb->i[m] : m];
        if (x->time < from || x->time > to)
            continue;
        if (x->resolved)
            ttr[nttr++] = x->resolved - x->time;
        else
            open++;
    }
    double days = (double)(to - from) / (double)DAY_NS;
    if (days <= 0)
        days = 1.0 / 86400.0;
    double per_day = (double)deps / days;
    json_t *f = json_object();
    lh__q_jset(q, f, "deployments", json_integer((json_int_t)deps));
    lh__q_jset(q, f, "days", json_real(round(days * 1000.0) / 1000.0));
    lh__q_jset(q, f, "per_day", json_real(round(per_day * 1000.0) / 1000.0));
    lh__q_jset(q, f, "band", band_frequency(per_day));
    lh__q_jset(q, o, "deployment_frequency", f);
    int64_t med = 0;
    json_t *lt = distribution(q, lead, nlead, &med);
    lh__q_jset(q, lt, "band", band_lead(med, nlead));
    lh__q_jset(q, o, "lead_time", lt);
    lh__q_jset(q, o, "change_failure_rate",
               rate(q, "failed", failed, deps, band_cfr(failed, deps)));
    json_t *rt = distribution(q, rec, nrec, &med);
    lh__q_jset(q, rt, "not_recovered", json_integer((json_int_t)unrec));
    lh__q_jset(q, rt, "band", band_recovery(med, nrec));
    lh__q_jset(q, o, "recovery_time", rt);
    json_t *tr = distribution(q, ttr, nttr, &med);
    lh__q_jset(q, tr, "open", json_integer((json_int_t)open));
    lh__q_jset(q, tr, "band", json_null());
    lh__q_jset(q, o, "time_to_restore", tr);
    lh__q_jset(q, o, "rework_rate", rate(q, "rework", rework, deps, json_null()));
    free(lead);
    free(rec);
    free(ttr);
    return o;
}

/* The start of the day or week (UTC, weeks from Monday) holding t. */
static int64_t
period_start(lh_report_every_t every, int64_t t)
{
    int64_t day = t >= 0 ? t / DAY_NS : (t - DAY_NS + 1) / DAY_NS;
    if (every == LH_REPORT_EVERY_WEEK)
        day -= ((day % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday */
    return day * DAY_NS;
}

static void
group_entry(qctx_t *q, const dora_t *d, const char *group, const members_t *mb, json_t *arr)
{
    const lh_report_req_t *r = q->rreq;
    json_t *e = json_object();
    const char *sep = group ? strchr(group, '\x1f') : NULL;
    if (sep) { /* by service and environment: both, and "service/environment" as the group */
        char b[512];
        snprintf(b, sizeof(b), "%.*s/%s", (int)(sep - group), group, sep + 1);
        lh__q_jset(q, e, "group", lh__q_jstr(b));
        lh__q_jset(q, e, "service", json_stringn(group, (size_t)(sep - group)));
        lh__q_jset(q, e, "environment", lh__q_jstr(sep + 1));
    } else {
        lh__q_jset(q, e, "group", lh__q_jstr(group));
    }
    lh__q_jset(q, e, "figures", figures(q, d, mb, q->from, q->to));
    if (r->every) {
        json_t *trend = json_array();
        int64_t step = r->every == LH_REPORT_EVERY_WEEK ? 7 * DAY_NS : DAY_NS;
        for (int64_t p = period_start(r->every, q->from); p <= q->to && !q->err; p += step) {
            int64_t a = p < q->from ? q->from : p, b = p + step - 1 > q->to ? q->to : p + step - 1;
            json_t *row = json_object();
            lh__q_jset(q, row, "from", lh__q_jtime(a));
            lh__q_jset(q, row, "to", lh__q_jtime(b));
            lh__q_jset(q, row, "figures", figures(q, d, mb, a, b));
            lh__q_jpush(q, trend, row);
        }
        lh__q_jset(q, e, "trend", trend);
    }
    if (!q->on_group) {
        lh__q_jpush(q, arr, e);
        return;
    }
    int rc = q->err ? 0 : e ? q->on_group(e, q->on_group_arg) : LH_ENOMEM;
    if (rc && !q->err)
        q->err = rc;
    json_decref(e);
}

/* Every group a change (that reached an outcome) or a counted incident of the period falls in,
 * in name order, each with its changes and incidents (a counting sort by group, in their
 * order: one array of indices each, not a list per group). */
static void
by_groups(qctx_t *q, dora_t *d, json_t *arr)
{
    pmap_t gm = {0}; /* group name -> its number, 1..ng */
    size_t ng = 0, nn = 0;
    pmap_init(q, &gm, 256, 1);
    uint32_t *gc = malloc((d->n + 1) * sizeof(*gc)), *gi = malloc((d->nk + 1) * sizeof(*gi));
    if (!gc || !gi)
        q->err = LH_ENOMEM;
    /* each member's group number (0: none) */
    for (size_t pass = 0; pass < 2 && !q->err; pass++) {
        size_t n = pass ? d->nk : d->n;
        for (size_t k = 0; k < n && !q->err; k++) {
            const char *g = pass ? d->k[k].group : d->c[k].group;
            int in = pass ? g != NULL : g && deployment(&d->c[k]);
            uint32_t num = 0;
            if (in) {
                slot_t *sl = pmap_at(q, &gm, g, NULL);
                if (!sl)
                    break;
                if (!sl->v)
                    sl->v = ++ng;
                num = (uint32_t)sl->v;
            }
            (pass ? gi : gc)[k] = num;
        }
    }
    const char **names = calloc(ng + 1, sizeof(*names)); /* by number */
    size_t *at_c = calloc(ng + 2, sizeof(*at_c)), *at_i = calloc(ng + 2, sizeof(*at_i));
    uint32_t *mc = malloc((d->n + 1) * sizeof(*mc)), *mi = malloc((d->nk + 1) * sizeof(*mi));
    /* a group is listed for a change, or for an incident detected in the period (one from the
     * week before only counts for rework) */
    char *listed = calloc(ng + 1, 1);
    const char **sorted = calloc(ng + 1, sizeof(*sorted)); /* the listed groups' names */
    if (!q->err && (!names || !at_c || !at_i || !mc || !mi || !listed || !sorted))
        q->err = LH_ENOMEM;
    for (size_t k = 0; !q->err && k < d->n; k++)
        if (gc[k]) {
            names[gc[k]] = d->c[k].group;
            listed[gc[k]] = 1;
            at_c[gc[k] + 1]++;
        }
    for (size_t j = 0; !q->err && j < d->nk; j++)
        if (gi[j]) {
            names[gi[j]] = d->k[j].group;
            listed[gi[j]] |= d->k[j].time >= q->from;
            at_i[gi[j] + 1]++;
        }
    for (size_t g = 1; !q->err && g <= ng + 1; g++) {
        at_c[g] += at_c[g - 1];
        at_i[g] += at_i[g - 1];
    }
    for (size_t k = 0; !q->err && k < d->n; k++) /* in index order: each group's stays so */
        if (gc[k])
            mc[at_c[gc[k]]++] = (uint32_t)k;
    for (size_t j = 0; !q->err && j < d->nk; j++)
        if (gi[j])
            mi[at_i[gi[j]]++] = (uint32_t)j;
    /* at_x[g] is now where group g + 1's members start: g's are [at_x[g - 1], at_x[g]) */
    for (size_t g = 1; !q->err && g <= ng; g++)
        if (listed[g])
            sorted[nn++] = names[g];
    if (!q->err)
        qsort(sorted, nn, sizeof(*sorted), lh__q_cmp_str);
    for (size_t k = 0; k < nn && !q->err; k++) {
        size_t g = pmap_get(&gm, sorted[k], NULL);
        members_t mb = {mc + at_c[g - 1], mi + at_i[g - 1], at_c[g] - at_c[g - 1],
                        at_i[g] - at_i[g - 1]};
        group_entry(q, d, sorted[k], &mb, arr);
    }
    free(sorted);
    free(listed);
    free(names);
    free(at_c);
    free(at_i);
    free(mc);
    free(mi);
    free(gc);
    free(gi);
    free(gm.s);
}

void
lh__q_gather_dora(qctx_t *q)
{
    const lh_report_req_t *r = q->rreq;
    dora_t d = {0};
    q->doc = json_object();
    json_t *groups = json_array();
    if (!q->doc || !groups)
        q->err = LH_ENOMEM;
    pthread_mutex_t mu;
    d.mu = pthread_mutex_init(&mu, NULL) == 0 ? &mu : NULL;
    read_period(q, &d);
    if (!q->err)
        link_all(q, &d);
    if (!q->err)
        counted(q, &d);
    if (!q->err)
        link_facts(q, &d);
    if (!r->by)
        group_entry(q, &d, NULL, NULL, groups);
    else
        by_groups(q, &d, groups);
    lh__q_jset(q, q->doc, "report", json_string("dora"));
    lh__q_jset(q, q->doc, "from", lh__q_jtime(q->from));
    lh__q_jset(q, q->doc, "to", lh__q_jtime(q->to));
    json_t *f = json_object();
    lh__q_jset(q, f, "service", lh__q_jstr(r->service));
    lh__q_jset(q, f, "environment", lh__q_jstr(r->environment));
    lh__q_jset(q, f, "by", lh__q_jstr(r->by));
    lh__q_jset(q, f, "every",
               r->every == LH_REPORT_EVERY_DAY    ? json_string("day")
               : r->every == LH_REPORT_EVERY_WEEK ? json_string("week")
                                                  : json_null());
    lh__q_jset(q, f, "min_severity", lh__q_jstr(lh_severity_name((lh_severity_t)r->min_severity)));
    lh__q_jset(q, q->doc, "filters", f);
    lh__q_jset(q, q->doc, "bands", json_string("DORA, Accelerate State of DevOps Report 2024"));
    lh__q_jset(q, q->doc, "groups", groups);
    if (d.mu)
        pthread_mutex_destroy(d.mu);
    dora_free(&d);
}

/* --- text ----------------------------------------------------------------------------------- */

static void
tband(qctx_t *q, const json_t *o)
{
    const char *b = lh__q_js(o, "band");
    lh__q_tprintf(q, "%s\n", b ? b : "-");
}

/* "12h (p90 1d 2h)" padded to width */
static void
tdist(qctx_t *q, const json_t *o, int width)
{
    char a[40] = "-", b[40] = "-", out[100];
    const json_t *m = json_object_get(o, "median_seconds"), *p = json_object_get(o, "p90_seconds");
    if (json_is_integer(m))
        lh_duration_human(json_integer_value(m) * LH_NS_PER_SEC, a, sizeof(a));
    if (json_is_integer(p))
        lh_duration_human(json_integer_value(p) * LH_NS_PER_SEC, b, sizeof(b));
    if (json_is_integer(m))
        snprintf(out, sizeof(out), "%s (p90 %s)", a, b);
    else
        snprintf(out, sizeof(out), "-");
    lh__q_tput(q, out, width);
}

static void
trate(qctx_t *q, const json_t *o, int width)
{
    char b[32] = "-";
    const json_t *v = json_object_get(o, "rate");
    if (json_is_number(v))
        snprintf(b, sizeof(b), "%.1f%%", json_number_value(v) * 100.0);
    lh__q_tput(q, b, width);
}

static void
text_figures(qctx_t *q, const json_t *f)
{
    const json_t *df = json_object_get(f, "deployment_frequency");
    const json_t *lt = json_object_get(f, "lead_time");
    const json_t *cfr = json_object_get(f, "change_failure_rate");
    const json_t *rt = json_object_get(f, "recovery_time");
    const json_t *tr = json_object_get(f, "time_to_restore");
    const json_t *rw = json_object_get(f, "rework_rate");
    char b[96];
    snprintf(b, sizeof(b), "%.2f/day", json_number_value(json_object_get(df, "per_day")));
    lh__q_tprintf(q, "  %-33s", "deployment frequency");
    lh__q_tput(q, b, 24);
    snprintf(b, sizeof(b), "%lld deployments in %.1f days", (long long)lh__q_ji(df, "deployments"),
             json_number_value(json_object_get(df, "days")));
    lh__q_tput(q, b, 34);
    tband(q, df);
    lh__q_tprintf(q, "  %-33s", "change lead time (median)");
    tdist(q, lt, 24);
    snprintf(b, sizeof(b), "%lld changes with a commit time", (long long)lh__q_ji(lt, "n"));
    lh__q_tput(q, b, 34);
    tband(q, lt);
    lh__q_tprintf(q, "  %-33s", "change failure rate");
    trate(q, cfr, 24);
    snprintf(b, sizeof(b), "%lld of %lld failed", (long long)lh__q_ji(cfr, "failed"),
             (long long)lh__q_ji(cfr, "deployments"));
    lh__q_tput(q, b, 34);
    tband(q, cfr);
    lh__q_tprintf(q, "  %-33s", "failed deployment recovery time");
    tdist(q, rt, 24);
    snprintf(b, sizeof(b), "%lld recovered, %lld not yet", (long long)lh__q_ji(rt, "n"),
             (long long)lh__q_ji(rt, "not_recovered"));
    lh__q_tput(q, b, 34);
    tband(q, rt);
    lh__q_tprintf(q, "  %-33s", "incident time to restore");
    tdist(q, tr, 24);
    snprintf(b, sizeof(b), "%lld resolved, %lld open", (long long)lh__q_ji(tr, "n"),
             (long long)lh__q_ji(tr, "open"));
    lh__q_tput(q, b, 34);
    tband(q, tr);
    lh__q_tprintf(q, "  %-33s", "rework rate");
    trate(q, rw, 24);
    snprintf(b, sizeof(b), "%lld of %lld unplanned", (long long)lh__q_ji(rw, "rework"),
             (long long)lh__q_ji(rw, "deployments"));
    lh__q_tput(q, b, 34);
    tband(q, rw);
}

void
lh__q_text_dora(qctx_t *q)
{
    const json_t *d = q->doc, *groups = json_object_get(d, "groups");
    const lh_report_req_t *r = q->rreq;
    lh__q_tprintf(q, "DORA figures, ");
    lh__q_tput(q, lh__q_js(d, "from"), 0);
    lh__q_tprintf(q, " .. ");
    lh__q_tput(q, lh__q_js(d, "to"), 0);
    lh__q_tprintf(q, "\n  ");
    lh__q_tput(q, r->store_name ? r->store_name : "the store", 0);
    if (r->service) {
        lh__q_tprintf(q, ", service ");
        lh__q_tput(q, r->service, 0);
    }
    if (r->environment) {
        lh__q_tprintf(q, ", environment ");
        lh__q_tput(q, r->environment, 0);
    }
    lh__q_tprintf(q, "\n  incidents counted: severity %s and above (or none given)\n  bands: ",
                  lh_severity_name((lh_severity_t)r->min_severity));
    lh__q_tput(q, lh__q_js(d, "bands"), 0);
    lh__q_tprintf(q, "\n");
    for (size_t g = 0; g < json_array_size(groups); g++) {
        const json_t *e = json_array_get(groups, g);
        lh__q_tprintf(q, "\n");
        if (r->by) {
            lh__q_tput(q, r->by, 0);
            lh__q_tprintf(q, " ");
            lh__q_tput(q, lh__q_js(e, "group"), 0);
            lh__q_tprintf(q, "\n");
        }
        lh__q_tprintf(q, "  %-33s%-24s%-34sband\n", "figure", "value", "sample");
        text_figures(q, json_object_get(e, "figures"));
        const json_t *trend = json_object_get(e, "trend");
        if (!json_array_size(trend))
            continue;
        lh__q_tprintf(q, "\n  %-12s %7s %8s %-22s %6s %-22s %6s\n", "from", "deploys", "per day",
                      "lead time", "CFR", "recovery", "rework");
        for (size_t t = 0; t < json_array_size(trend); t++) {
            const json_t *row = json_array_get(trend, t), *f = json_object_get(row, "figures");
            const json_t *df = json_object_get(f, "deployment_frequency");
            char day[40] = "";
            const char *from = lh__q_js(row, "from");
            snprintf(day, sizeof(day), "%.10s", from ? from : "");
            lh__q_tprintf(q, "  %-12s %7lld %8.2f ", day, (long long)lh__q_ji(df, "deployments"),
                          json_number_value(json_object_get(df, "per_day")));
            tdist(q, json_object_get(f, "lead_time"), 22);
            lh__q_tprintf(q, " ");
            trate(q, json_object_get(f, "change_failure_rate"), 6);
            lh__q_tprintf(q, " ");
            tdist(q, json_object_get(f, "recovery_time"), 22);
            lh__q_tprintf(q, " ");
            trate(q, json_object_get(f, "rework_rate"), 0);
            lh__q_tprintf(q, "\n");
        }
    }
}
