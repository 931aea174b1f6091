/*
 * outcome.c - the outcome path: outcomes, cases and their revisions (docs/correlation.md, "One
 * alert per incident").
 *
 * An outcome (table `outcomes`, keyed by its first stored event's seq) is one incident's
 * lifecycle or one firing period of a monitoring alert; its facts are the union of its events'
 * (earliest time, every host, any artifact). A case (table `cases`) is one correlated alert: the
 * outcome's own, or an open one of the same service and environment with the same suspects
 * that the outcome joined within the group window. Every revision of a case is an outbox row;
 * revision n+1 is written only when the conclusion differs from revision n as published, and the
 * resolution of the case's last open outcome is its final revision.
 *
 * Invariants:
 *  - What every event pays is one indexed lookup of its outcome (oc_ref) and, when its facts
 *    changed, one write of that row; an unchanged conclusion publishes nothing and decodes
 *    nothing (the case's top suspect and suspect key decide).
 *  - An alert id derives from its first outcome's key alone, so every revision, hub and restart
 *    names it alike.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator_internal.h"
#include "hash.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"

/* ---- outcomes ------------------------------------------------------------------------------- */

/* A column as a scratch string, NULL when NULL. */
static int
col_text(lh_correlator_t *c, sqlite3_stmt *s, int col, const char **dst)
{
    *dst = NULL;
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (!v)
        return 0;
    *dst = lh__c_scratch_strndup(&c->scratch, v, (size_t)sqlite3_column_bytes(s, col));
    return *dst ? 0 : LH_ENOMEM;
}

static int
same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Remembers oc's values as its row now holds them. */
static void
oc_stored(outcome_t *oc)
{
    oc->found = 1;
    oc->was.case_id = oc->case_id;
    oc->was.top = oc->top;
    oc->was.time = oc->time;
    oc->was.resolved = oc->resolved;
    oc->was.top_started = oc->top_started;
    oc->was.open = oc->open;
    oc->was.severity = oc->severity;
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
    oc->severity = sqlite3_column_int(s, LH_OCOL_SEVERITY);
    oc->top_started = sqlite3_column_int64(s, LH_OCOL_TOP_STARTED);
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
    if (!rc)
        rc = col_text(c, s, LH_OCOL_TOP, &oc->top);
    if (!rc)
        oc_stored(oc);
    return rc;
}

/* ---- the outcome cache ---------------------------------------------------------------------- */

/*
 * What the lookups of the outcome path read, by key (kind, ref, environment): an incident's row
 * (LH_CSQL_OC_GET), an alert's newest period (LH_CSQL_OC_OPEN), or that no row of the key exists.
 * Two-way set-associative (the entry used last of a set first), OCACHE_SLOTS entries at most,
 * each one block of the row's numbers and strings (about 270 bytes at the bench's workload). On
 * a store that holds more alert fingerprints than its page cache has room for, these lookups
 * read a page of oc_ref and a page of outcomes each (a fingerprint's newest period lies anywhere
 * in both); an entry is a few hundred bytes instead of two 16 kB pages.
 *
 * Every row the correlator writes goes through oc_put(), which keeps the entry of its key equal
 * to what the lookup would read: a new row of an incident, or an alert period at least as new as
 * the entry's, becomes the entry; an update that moves a row's time (which can make another
 * period the newest) drops it. The store's other writers: a rolled-back transaction
 * (lh__store_discards) clears the cache; retention deletes an outcome with its first event, so
 * an entry whose time is not later than every expired outcome's first event
 * (lh__store_outcomes_expired_to) is read again. A lookup gives the same row with the cache as
 * without it (check_correlator: the same input, the cache on and off).
 */
#define OCACHE_SLOTS 32768 /* power of two */
#define OCACHE_SET(c, h) (((h) & ((c)->ocache_slots / 2 - 1)) * 2)

/* An entry: the row's numbers and, in data, its strings (the key's first). */
enum {
    OE_REF,
    OE_ENV,
    OE_OKEY,
    OE_SERVICE,
    OE_EVENT_ID,
    OE_TITLE,
    OE_HOSTS,
    OE_ARTIFACT,
    OE_CASE,
    OE_TOP,
    OE_STR
};

struct oentry {
    uint64_t hash;
    int64_t time, first_seq, resolved, top_started;
    uint64_t memo_at; /* the memo of the row's last conclusion (0: none) */
    uint32_t memo[MEMO_SCOPES];
    int32_t severity;
    uint8_t kind, none, open; /* none: the key has no row */
    uint8_t memo_n;
    uint16_t at[OE_STR]; /* each string's offset in data + 1, 0: NULL */
    char data[];
};

static const char *
oe_str(const struct oentry *e, int i)
{
    return e->at[i] ? e->data + e->at[i] - 1 : NULL;
}

int
lh__c_ocache_init(lh_correlator_t *c)
{
    c->ocache_slots = lh__c_test_cache_mode == 2 ? 4 : OCACHE_SLOTS;
    c->ocache = lh__c_test_cache_mode == 1 ? NULL : calloc(c->ocache_slots, sizeof(*c->ocache));
    c->ocache_expired = lh__store_outcomes_expired_to(c->st);
    return 0; /* optional: without memory for it, the lookups read the store */
}

void
lh__c_ocache_clear(lh_correlator_t *c)
{
    if (c->ocache)
        for (size_t i = 0; i < c->ocache_slots; i++) {
            free(c->ocache[i]);
            c->ocache[i] = NULL;
        }
}

void
lh__c_ocache_free(lh_correlator_t *c)
{
    lh__c_ocache_clear(c);
    free(c->ocache);
    c->ocache = NULL;
}

static uint64_t
ocache_hash(int kind, const char *ref, const char *env)
{
    unsigned char k = (unsigned char)kind;
    return lh__c_key_hash(lh__hash64_update(LH__HASH64_SEED, &k, 1), ref, env);
}

static int
ocache_is(const struct oentry *e, uint64_t h, int kind, const char *ref, const char *env)
{
    if (!e || e->hash != h || e->kind != kind || strcmp(oe_str(e, OE_REF), ref) != 0)
        return 0;
    const char *v = oe_str(e, OE_ENV);
    return env ? v && strcmp(v, env) == 0 : v == NULL;
}

/* The key's entry, made the first of its set; NULL when the cache does not hold the key. */
static struct oentry *
ocache_find(lh_correlator_t *c, uint64_t h, int kind, const char *ref, const char *env)
{
    if (!c->ocache)
        return NULL;
    if (lh__store_outcomes_expired_to(c->st) != c->ocache_expired) {
        /* retention deleted outcomes since: entries of a time up to then are read again */
        c->ocache_expired = lh__store_outcomes_expired_to(c->st);
        for (size_t i = 0; i < c->ocache_slots; i++) {
            struct oentry *e = c->ocache[i];
            if (e && !e->none && e->time <= c->ocache_expired) {
                free(e);
                c->ocache[i] = NULL;
            }
        }
    }
    struct oentry **set = &c->ocache[OCACHE_SET(c, h)];
    if (ocache_is(set[0], h, kind, ref, env))
        return set[0];
    if (!ocache_is(set[1], h, kind, ref, env))
        return NULL;
    struct oentry *e = set[1];
    set[1] = set[0];
    set[0] = e;
    return e;
}

static void
ocache_drop(lh_correlator_t *c, uint64_t h, int kind, const char *ref, const char *env)
{
    if (!ocache_find(c, h, kind, ref, env))
        return;
    struct oentry **set = &c->ocache[OCACHE_SET(c, h)]; /* the entry is set[0] now */
    free(set[0]);
    set[0] = set[1];
    set[1] = NULL;
}

/* The key's entry becomes oc as its row now reads (oc NULL: the key has no row), evicting the
 * older entry of the set. Best effort: without memory (or for a row of over 64 kB of text) the
 * key is simply not cached. */
static void
ocache_put(lh_correlator_t *c, uint64_t h, int kind, const char *ref, const char *env,
           const outcome_t *oc)
{
    if (!c->ocache)
        return;
    const char *src[OE_STR] = {[OE_REF] = ref, [OE_ENV] = env};
    if (oc) {
        src[OE_OKEY] = oc->okey;
        src[OE_SERVICE] = oc->service;
        src[OE_EVENT_ID] = oc->event_id;
        src[OE_TITLE] = oc->title;
        src[OE_HOSTS] = oc->hosts;
        src[OE_ARTIFACT] = oc->artifact;
        src[OE_CASE] = oc->case_id;
        src[OE_TOP] = oc->top;
    }
    size_t len[OE_STR], total = 0;
    for (size_t i = 0; i < OE_STR; i++)
        total += len[i] = src[i] ? strlen(src[i]) + 1 : 0;
    struct oentry *e = total < UINT16_MAX ? malloc(sizeof(*e) + total) : NULL;
    if (!e) {
        ocache_drop(c, h, kind, ref, env);
        return;
    }
    memset(e, 0, sizeof(*e));
    for (size_t i = 0, at = 0; i < OE_STR; at += len[i++])
        if (src[i]) {
            memcpy(e->data + at, src[i], len[i]);
            e->at[i] = (uint16_t)(at + 1);
        }
    e->hash = h;
    e->kind = (uint8_t)kind;
    e->none = oc == NULL;
    if (oc) {
        /* as oc_row() reads it back: NULL columns read as 0 */
        e->time = oc->time;
        e->first_seq = oc->first_seq;
        e->open = oc->open != 0;
        e->resolved = oc->open ? 0 : oc->resolved;
        e->severity = oc->severity;
        e->top_started = oc->top ? oc->top_started : 0;
    }
    struct oentry **set = &c->ocache[OCACHE_SET(c, h)];
    if (ocache_find(c, h, kind, ref, env)) { /* now set[0]: replaced */
        free(set[0]);
    } else { /* the set's older entry makes room */
        free(set[1]);
        set[1] = set[0];
    }
    set[0] = e;
}

/* Fills oc from an entry's row, its strings copied to the scratch (which outlives an eviction
 * during this run). */
static int
ocache_take(lh_correlator_t *c, const struct oentry *e, outcome_t *oc)
{
    memset(oc, 0, sizeof(*oc));
    if (e->none)
        return 0;
    oc->kind = e->kind;
    oc->time = e->time;
    oc->first_seq = e->first_seq;
    oc->open = e->open;
    oc->resolved = e->resolved;
    oc->severity = e->severity;
    oc->top_started = e->top_started;
    oc->memo_at = e->memo_at;
    oc->memo_n = e->memo_n;
    memcpy(oc->memo, e->memo, sizeof(oc->memo));
    const char **str[OE_STR] = {
        [OE_REF] = &oc->ref,         [OE_ENV] = &oc->env,           [OE_OKEY] = &oc->okey,
        [OE_SERVICE] = &oc->service, [OE_EVENT_ID] = &oc->event_id, [OE_TITLE] = &oc->title,
        [OE_HOSTS] = &oc->hosts,     [OE_ARTIFACT] = &oc->artifact, [OE_CASE] = &oc->case_id,
        [OE_TOP] = &oc->top,
    };
    for (int i = 0; i < OE_STR; i++) {
        const char *v = oe_str(e, i);
        if (v && !(*str[i] = lh__c_scratch_strndup(&c->scratch, v, strlen(v))))
            return LH_ENOMEM;
    }
    oc_stored(oc);
    return 0;
}

/* After oc's row was written (new: it was not found before): keeps the entry of its key equal
 * to what the lookup of the key would read. */
static void
ocache_wrote(lh_correlator_t *c, const outcome_t *oc, int new, int64_t was_time)
{
    if (!c->ocache || !oc->ref || (oc->kind != LH_KIND_ALERT && oc->kind != LH_KIND_INCIDENT))
        return;
    uint64_t h = ocache_hash(oc->kind, oc->ref, oc->env);
    const struct oentry *e = ocache_find(c, h, oc->kind, oc->ref, oc->env);
    if (!e)
        return; /* unknown: the store may hold a newer period than oc */
    int same = !e->none && e->first_seq == oc->first_seq;
    /* a new row is what the lookup reads when the key had none, or, of an alert, when it is the
     * newest period (by time, then first_seq: OC_OPEN's order; a new row's first_seq is the
     * largest) */
    int newest = new && (e->none || (oc->kind == LH_KIND_ALERT && oc->time >= e->time));
    if ((same && oc->time == was_time) || newest)
        ocache_put(c, h, oc->kind, oc->ref, oc->env, oc);
    else if (same || e->none || oc->kind == LH_KIND_INCIDENT || oc->time >= e->time)
        ocache_drop(c, h, oc->kind, oc->ref, oc->env); /* which row the lookup reads: unsure */
    /* else: an alert period older than the entry's, which stays the newest (a period's time
     * only moves earlier) */
}

/* ---- the memo of a conclusion -------------------------------------------------------------- */

/*
 * A notification that adds no fact to its outcome (the common case: a monitoring alert firing
 * again every few minutes) would conclude it again from the same rows, to the same conclusion,
 * which publishes nothing. A conclusion reads the outcome's row, the rows of its scopes (the
 * deploy events of its service, of each of its hosts and of its artifact, in its environment:
 * the candidate lookups), every event of each change they found, the pairs of the outcome (only
 * its own conclusions write them), its case, and the options; when its suspects differ from the
 * case's, also the published revision. Each write into a scope is marked in c->touched with a
 * tick (touch_deploy() for every stored deploy event, case_put() for a case), and the outcome's
 * cache entry keeps the tick of its last conclusion and the slots of its scopes (memo_set()).
 * While none of them was written since (memo_holds()), the conclusion stands and is not made
 * again. What no scope marks has no memo: a conclusion that read the published revision and
 * left it as it was (retention deletes revisions by their age, not by their case's), an outcome
 * with more scopes than MEMO_SCOPES, a period of the key other than the one its entry holds. Two
 * scopes sharing a slot only make a memo fail more often. The entry follows the outcome cache's
 * rules (a discarded transaction, or a retention step that deleted a change, clears the cache),
 * and new options void every memo (memo_floor). The deploy path concludes most outcomes a new
 * change relates to by itself; the scopes catch what it does not: an outcome past its lookups'
 * limit or related by a fact that a notification outside the change's window brought, a change
 * that stopped being a suspect or left a service, a case another outcome changed. With memos or
 * without, the correlator writes the same rows (check_correlator: `memo_same_as_store`,
 * `memo_busy_window`, `memo_case_written`, `memo_other_period`, `memo_revision_expired`).
 */

/* After oc was concluded: its entry remembers what the conclusion read, when `stands` (else it
 * has no memo). */
static void
memo_set(lh_correlator_t *c, const outcome_t *oc, int stands)
{
    if (!c->touched || !oc->ref || (oc->kind != LH_KIND_ALERT && oc->kind != LH_KIND_INCIDENT))
        return;
    uint64_t h = ocache_hash(oc->kind, oc->ref, oc->env);
    struct oentry *e = ocache_find(c, h, oc->kind, oc->ref, oc->env);
    if (!e || e->none || e->first_seq != oc->first_seq)
        return; /* the key's entry is another period, or the cache does not hold it */
    e->memo_at = 0;
    if (!stands)
        return;
    uint32_t m[MEMO_SCOPES];
    size_t n = 0, len;
    const char *p = oc->hosts, *t;
    if (oc->service)
        m[n++] = lh__c_scope(c, LH__SCOPE_SERVICE, oc->service, strlen(oc->service), oc->env);
    while ((t = lh__c_next_host(&p, &len))) {
        if (n == MEMO_SCOPES)
            return;
        m[n++] = lh__c_scope(c, LH__SCOPE_HOST, t, len, oc->env);
    }
    const char *more[2][2] = {{oc->artifact, oc->env}, {oc->case_id, NULL}};
    const int tags[2] = {LH__SCOPE_ARTIFACT, LH__SCOPE_CASE};
    for (int i = 0; i < 2; i++) {
        if (!more[i][0])
            continue;
        if (n == MEMO_SCOPES)
            return;
        m[n++] = lh__c_scope(c, tags[i], more[i][0], strlen(more[i][0]), more[i][1]);
    }
    if (c->n_cand > MEMO_SCOPES - n)
        return;
    memcpy(m + n, c->cand, c->n_cand * sizeof(*m));
    n += c->n_cand;
    memcpy(e->memo, m, n * sizeof(*m));
    e->memo_n = (uint8_t)n;
    e->memo_at = ++c->tick;
}

/* Whether oc's last conclusion, as its cache entry remembers it, still stands. */
static int
memo_holds(const lh_correlator_t *c, const outcome_t *oc)
{
    if (!c->touched || oc->memo_at <= c->memo_floor)
        return 0;
    for (size_t i = 0; i < oc->memo_n; i++)
        if (c->touched[oc->memo[i]] > oc->memo_at)
            return 0;
    return 1;
}

/* Reads one outcome row with statement which (LH_CSQL_OC_GET: an incident's, LH_CSQL_OC_OPEN: an
 * alert's newest period, LH_CSQL_OC_AT: its period at time t) of ref in env; oc->found says
 * whether there was one. */
static int
oc_read(lh_correlator_t *c, int which, const char *ref, const char *env, int64_t t, outcome_t *oc)
{
    memset(oc, 0, sizeof(*oc));
    int kind = which == LH_CSQL_OC_GET ? LH_KIND_INCIDENT : LH_KIND_ALERT;
    uint64_t h = ocache_hash(kind, ref, env);
    const struct oentry *e = ocache_find(c, h, kind, ref, env);
    /* the newest period is the one at t when it began by then (none at all: none at t) */
    if (e && (which != LH_CSQL_OC_AT || e->none || e->time <= t)) {
        c->stats.hits[LH_CORR_CACHE_OUTCOMES]++;
        return ocache_take(c, e, oc);
    }
    c->stats.misses[LH_CORR_CACHE_OUTCOMES]++;
    sqlite3_stmt *s = c->stmt[which];
    if (lh__c_bind_text(s, 1, ref) != SQLITE_OK || lh__c_bind_text(s, 2, env) != SQLITE_OK ||
        (which == LH_CSQL_OC_AT && sqlite3_bind_int64(s, 3, t) != SQLITE_OK))
        return lh__c_sql_fail(c, which);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        rc = oc_row(c, s, oc);
        lh__c_sql_done(s);
        if (!rc && which != LH_CSQL_OC_AT)
            ocache_put(c, h, kind, ref, env, oc);
        return rc;
    }
    if (rc != SQLITE_DONE)
        return lh__c_sql_fail(c, which);
    lh__c_sql_done(s);
    if (which != LH_CSQL_OC_AT)
        ocache_put(c, h, kind, ref, env, NULL);
    return 0;
}

/* Which statement writes oc: a new row, or of a known row only the columns of the indexes whose
 * key changed (time: oc_ref and oc_dora; the case: oc_case; the incident's state: oc_dora). */
static int
oc_statement(const outcome_t *oc)
{
    if (!oc->found)
        return LH_CSQL_OC_PUT;
    if (oc->time != oc->was.time || !same_str(oc->case_id, oc->was.case_id))
        return LH_CSQL_OC_UPDATE;
    if (oc->open != oc->was.open || oc->resolved != oc->was.resolved ||
        oc->severity != oc->was.severity || !same_str(oc->top, oc->was.top) ||
        oc->top_started != oc->was.top_started)
        return LH_CSQL_OC_UPDATE_STATE;
    return LH_CSQL_OC_UPDATE_FACTS;
}

/* Writes the outcome: a new row, or the known row's new state. */
static int
oc_put(lh_correlator_t *c, outcome_t *oc)
{
    int which = oc_statement(oc);
    sqlite3_stmt *s = c->stmt[which];
    /* the statements number their parameters as the INSERT does; the shorter UPDATEs have no
     * slot past their highest */
    int np = sqlite3_bind_parameter_count(s);
    int rc = lh__c_bind_text(s, 1, oc->okey) || sqlite3_bind_int(s, 2, oc->kind) ||
             lh__c_bind_text(s, 3, oc->ref) || lh__c_bind_text(s, 4, oc->service) ||
             lh__c_bind_text(s, 5, oc->env) || sqlite3_bind_int64(s, 6, oc->time) ||
             sqlite3_bind_int64(s, 7, oc->first_seq) || lh__c_bind_text(s, 8, oc->event_id) ||
             lh__c_bind_text(s, 9, oc->title) || lh__c_bind_text(s, 10, oc->hosts) ||
             lh__c_bind_text(s, 11, oc->artifact);
    if (!rc && np >= 17)
        rc = sqlite3_bind_int(s, 12, oc->open) ||
             (oc->open ? sqlite3_bind_null(s, 13) : sqlite3_bind_int64(s, 13, oc->resolved)) ||
             lh__c_bind_text(s, 14, oc->case_id) ||
             (oc->severity ? sqlite3_bind_int(s, 15, oc->severity) : sqlite3_bind_null(s, 15)) ||
             lh__c_bind_text(s, 16, oc->top) ||
             (oc->top ? sqlite3_bind_int64(s, 17, oc->top_started) : sqlite3_bind_null(s, 17));
    if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        return lh__c_sql_fail(c, which);
    lh__c_sql_done(s);
    ocache_wrote(c, oc, which == LH_CSQL_OC_PUT, oc->was.time);
    oc_stored(oc);
    return 0;
}

static const char *
okey_incident(lh_correlator_t *c, const char *env, const char *incident_id)
{
    return lh__c_sfmt(&c->scratch, "incident\x1f%s\x1f%s", env ? env : "", incident_id);
}

/* What names a monitoring alert across its notifications: its fingerprint, else its name. */
static const char *
alert_ref(const lh_event_t *ev)
{
    return ev->alert.fingerprint ? ev->alert.fingerprint : ev->alert.name;
}

/* The outcome an outcome event of the store belongs to: its incident's, or the firing period
 * of its alert at its time (oc->found 0: none recorded). */
int
lh__c_oc_of(lh_correlator_t *c, const lh_event_t *ev, outcome_t *oc)
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
    while ((t = lh__c_next_host(&p, &len))) {
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
        if (lh__c_hosts_contain((const char *)b->data, h))
            continue;
        if (lh_buf_printf(b, "%s%s", n ? " " : "", h) < 0)
            goto nomem;
        n++;
    }
    if (n == before)
        return hosts;
    const char *r = lh__c_scratch_strndup(&c->scratch, (const char *)b->data, b->len);
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
    while (lh__c_next_host(&p, &len))
        n++;
    if (!n)
        return 0;
    char **v = lh__c_scratch_alloc(&c->scratch, n * sizeof(char *));
    if (!v)
        return LH_ENOMEM;
    p = oc->hosts;
    for (size_t i = 0; i < n && (t = lh__c_next_host(&p, &len)); i++)
        if (!(v[i] = lh__c_scratch_strndup(&c->scratch, t, len)))
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
        return oc->title ? lh__c_sfmt(&c->scratch, "incident %s (%s)", oc->ref, oc->title)
                         : lh__c_sfmt(&c->scratch, "incident %s", oc->ref);
    if (oc->title && strcmp(oc->title, oc->ref) != 0)
        return lh__c_sfmt(&c->scratch, "alert %s (fingerprint %s)", oc->title, oc->ref);
    return lh__c_sfmt(&c->scratch, "alert %s", oc->ref);
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
    const char **ids = lh__c_scratch_alloc(&c->scratch, c->n_show * sizeof(char *));
    if (!ids)
        return NULL;
    for (size_t i = 0; i < c->n_show; i++)
        ids[i] = c->chg[i].deploy_id;
    qsort(ids, c->n_show, sizeof(*ids), cmp_str_ptr);
    uint64_t h = LH__HASH64_SEED;
    for (size_t i = 0; i < c->n_show; i++)
        h = lh__hash64_update(h, ids[i], strlen(ids[i]) + 1);
    return lh__c_sfmt(&c->scratch, "%016llx", (unsigned long long)lh__hash64_final(h));
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
    if (lh__c_bind_text(s, 1, id) != SQLITE_OK)
        return lh__c_sql_fail(c, LH_CSQL_CASE_GET);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        lh__c_sql_done(s);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return lh__c_sql_fail(c, LH_CSQL_CASE_GET);
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
    lh__c_sql_done(s);
    return rc;
}

static int
case_put(lh_correlator_t *c, kase_t *k)
{
    int which = k->found ? LH_CSQL_CASE_UPDATE : LH_CSQL_CASE_PUT;
    sqlite3_stmt *s = c->stmt[which];
    int rc = lh__c_bind_text(s, 1, k->id) || sqlite3_bind_int(s, 2, k->kind) ||
             lh__c_bind_text(s, 3, k->service) || lh__c_bind_text(s, 4, k->env) ||
             sqlite3_bind_int64(s, 5, k->time) || sqlite3_bind_int64(s, 6, k->last_time) ||
             sqlite3_bind_int(s, 7, k->revision) || lh__c_bind_text(s, 8, k->top) ||
             lh__c_bind_text(s, 9, k->key ? k->key : "") || sqlite3_bind_int(s, 10, k->late) ||
             sqlite3_bind_int(s, 11, k->resolved);
    if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
        return lh__c_sql_fail(c, which);
    lh__c_sql_done(s);
    k->found = 1;
    lh__c_touch(c, LH__SCOPE_CASE, k->id, NULL); /* its outcomes' memos no longer hold */
    return 0;
}

/* The revision of alert id as published (decoded: lh_store_alert_payload(), but its outcome), with
 * its outbox seq and *origin, the revision whose suspects it has (its own seq, or the one it
 * repeats). *out NULL when there is none or it does not decode (logged). */
static int
alert_load(lh_correlator_t *c, const char *id, int revision, lh_correlated_t **out, int64_t *seq,
           int64_t *origin)
{
    *out = NULL;
    *seq = 0;
    *origin = 0;
    sqlite3_stmt *s = c->stmt[LH_CSQL_ALERT_LAST];
    if (lh__c_bind_text(s, 1, id) != SQLITE_OK || sqlite3_bind_int(s, 2, revision) != SQLITE_OK)
        return lh__c_sql_fail(c, LH_CSQL_ALERT_LAST);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        lh__c_sql_done(s);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return lh__c_sql_fail(c, LH_CSQL_ALERT_LAST);
    *seq = sqlite3_column_int64(s, 0);
    *origin = sqlite3_column_int64(s, 1) > 0 ? sqlite3_column_int64(s, 1) : *seq;
    lh__c_sql_done(s);
    lh_buf_reset(&c->pb);
    rc = lh_store_alert_payload(c->st, *seq, 0, &c->pb); /* its outcome is not read here */
    if (rc == 0)
        rc = lh_codec_alert_pb_decode(c->pb.data ? (const void *)c->pb.data : "", c->pb.len, out);
    if (rc == LH_ENOMEM || rc == LH_ESTORE)
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
    if (lh__c_bind_text(s, 1, id) != SQLITE_OK)
        return lh__c_sql_fail(c, LH_CSQL_CASE_OUTCOMES);
    int rc, err = 0;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        outcome_t oc;
        if ((err = oc_row(c, s, &oc)) < 0)
            break;
        lh_ca_outcome_t *o = lh_correlated_add_outcome(ca);
        if (!o || lh__c_dup_str(&o->ref, oc.ref) || lh__c_dup_str(&o->event_id, oc.event_id) ||
            lh__c_dup_str(&o->title, oc.title)) {
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
        lh__c_sql_done(s);
        return err;
    }
    if (rc != SQLITE_DONE)
        return lh__c_sql_fail(c, LH_CSQL_CASE_OUTCOMES);
    lh__c_sql_done(s);
    return 0;
}

/* Writes the alert revision (made by the event at tseq) into the outbox; *aseq gets its seq.
 * Returns 1 when written, 0 when that revision existed already (a replay after a crash between two
 * hubs' identical work). Its outcome is that event (alert_outcome(), lh__c_unapproved()): the
 * revision is stored without the copy, named by tseq and the event's id; same_as (0: none) is the
 * revision whose suspects, rollbacks and rollback target it repeats as they are, stored without
 * them too; and what the row's columns hold (id, kind, service, environment, late, created,
 * revision) is left to them. The store puts it all back when the revision is read
 * (store_outbox.c). */
int
lh__c_write_alert(lh_correlator_t *c, lh_correlated_t *ca, int64_t oseq, int64_t tseq,
                  int64_t same_as, int64_t *aseq)
{
    lh_correlated_t kept = *ca; /* what the stored payload leaves out, put back below */
    const char *outcome_id = ca->outcome ? ca->outcome->id : NULL;
    if (tseq > 0 && outcome_id)
        ca->outcome = NULL;
    ca->id = NULL; /* the row's own columns */
    ca->kind = (lh_ca_kind_t)0;
    ca->service = ca->environment = NULL;
    ca->late = 0;
    ca->created_ns = 0;
    ca->revision = 0;
    if (same_as > 0) {
        ca->suspects = NULL;
        ca->n_suspects = 0;
        ca->rollbacks = NULL;
        ca->n_rollbacks = 0;
        ca->rollback_version = NULL;
    }
    lh_buf_reset(&c->pb);
    int rc = lh_codec_alert_pb_encode(ca, &c->pb);
    *ca = kept;
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, COMPONENT, "cannot encode alert %s: %s", ca->id, lh_strerror(rc));
        return rc;
    }
    rc = lh_store_alert_insert(c->st, ca->id, (int)ca->revision, outcome_id, tseq, (int)ca->kind,
                               ca->service, ca->environment, oseq, ca->late, ca->created_ns,
                               same_as, c->pb.data, c->pb.len, aseq);
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
        if (lh__c_dup_str(&sp->deploy_id, ch->deploy_id) ||
            lh__c_dup_str(&sp->event_id, ch->event_id) ||
            lh__c_dup_str(&sp->service, ch->service) || lh__c_dup_str(&sp->environment, env) ||
            lh__c_dup_str(&sp->version, ch->version) ||
            lh__c_dup_str(&sp->previous_version, ch->previous_version) ||
            lh__c_dup_str(&sp->actor, ch->actor) || lh__c_dup_str(&sp->commit, ch->commit) ||
            lh__c_dup_str(&sp->artifact, ch->artifact))
            return LH_ENOMEM;
        sp->previous_version_derived = ch->previous_version && ch->prev_derived;
        sp->deploy_time_ns = ch->time;
        sp->lead_seconds = ch->lead_ns / LH_NS_PER_SEC;
        sp->score = ch->score;
        for (size_t r = 0; !rc && r < ch->n_reasons; r++)
            rc = lh_suspect_add_reason(sp, ch->reasons[r]) < 0 ? LH_ENOMEM : 0;
        const char *p = ch->hosts, *t;
        size_t n;
        while (!rc && (t = lh__c_next_host(&p, &n))) {
            const char *h = lh__c_scratch_strndup(&c->scratch, t, n);
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
            if ((rc = lh__c_last_good(c, svc, env, first->time, first->deploy_id, &version)) < 0)
                return rc;
            derived = version != NULL;
        }
        lh_rollback_t *rb = lh_correlated_add_rollback(ca);
        if (!rb || lh__c_dup_str(&rb->service, svc) || lh__c_dup_str(&rb->version, version) ||
            lh__c_dup_str(&rb->deploy_id, first->deploy_id) ||
            lh__c_dup_str(&rb->from_version, first->version))
            return LH_ENOMEM;
        rb->derived = derived;
        if (i == 0 && lh__c_dup_str(&ca->rollback_version, version))
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
    int rc = lh__c_load_event(c, seq, &ca->outcome);
    return rc == LH_EDECODE || rc == LH_ENOTFOUND ? 0 : rc;
}

/* The id of the case outcome oc starts: the outcome's start (seconds, 8 hex digits) then a
 * hash of its key, so that it is the same wherever the same events are correlated, and so
 * that new ids sort after old ones: the indexes keyed by case id (cases, oc_case, the alerts'
 * (id, revision)) take each new case at their end instead of on a random page. */
static const char *
case_id(lh_correlator_t *c, const outcome_t *oc)
{
    uint64_t h = lh__hash64_update(LH__HASH64_SEED, oc->okey, strlen(oc->okey));
    int64_t secs = oc->time / LH_NS_PER_SEC;
    unsigned long long t = secs < 0              ? 0
                           : secs > 0xffffffffLL ? 0xffffffffULL
                                                 : (unsigned long long)secs;
    return lh__c_sfmt(&c->scratch, "ca-%08llx%016llx", t, (unsigned long long)lh__hash64_final(h));
}

/* lh__c_conclude() but the memo; *rereads set when the next conclusion from the same rows would
 * read the published revision again (which no scope marks: retention may delete it). */
static int
conclude(lh_correlator_t *c, outcome_t *oc, int dirty, int64_t tseq, const lh_event_t *trig,
         int late, int64_t now_ns, int *rereads)
{
    lh_event_t o;
    int rc = oc_as_event(c, oc, &o);
    if (rc < 0)
        return rc;
    int n = lh__c_gather(c, &o, oc->first_seq, late);
    if (n <= 0)
        return n < 0 ? n : dirty ? oc_put(c, oc) : 0;
    /* an incident's top suspect on its row, for `loophub dora` (the rank-1 pair below) */
    if (oc->kind == LH_KIND_INCIDENT &&
        (!oc->top || strcmp(oc->top, c->chg[0].deploy_id) || oc->top_started != c->chg[0].time)) {
        oc->top = c->chg[0].deploy_id;
        oc->top_started = c->chg[0].time; /* the report finds its change by it */
        dirty = 1;
    }
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
        if (lh__c_bind_text(s, 1, oc->service) || lh__c_bind_text(s, 2, oc->env) ||
            sqlite3_bind_int64(s, 3, lh__c_sat_sub(oc->time, c->o.group_window_ns)) ||
            lh__c_bind_text(s, 4, key) ||
            sqlite3_bind_int64(s, 5, lh__c_sat_add(oc->time, c->o.group_window_ns)))
            return lh__c_sql_fail(c, LH_CSQL_CASE_FIND);
        const char *id = NULL;
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && col_text(c, s, 0, &id) < 0) {
            lh__c_sql_done(s);
            return LH_ENOMEM;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return lh__c_sql_fail(c, LH_CSQL_CASE_FIND);
        lh__c_sql_done(s);
        if (id) {
            if ((rc = case_get(c, id, &k)) < 0)
                return rc;
            joined = k.found;
        }
    }
    if (!k.found) {
        memset(&k, 0, sizeof(k));
        if (!(k.id = case_id(c, oc)))
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
    int64_t prev_seq = 0, prev_origin = 0;
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
    if (!created && (rc = alert_load(c, k.id, k.revision, &prev, &prev_seq, &prev_origin)) < 0)
        goto out;

    /* what changed since the published revision, in words */
    int any_late = 0;
    const char *noun = oc->kind == LH_KIND_INCIDENT ? "incident" : "alert";
    if (joined)
        rc = add_change_text(
            ca, lh__c_sfmt(&c->scratch, "joined by %s, with the same suspects", oc_phrase(c, oc)));
    for (size_t i = 0; !rc && i < c->n_show; i++) {
        const change_t *ch = &c->chg[i];
        any_late |= ch->late;
        if (created || published(prev, ch->deploy_id))
            continue;
        rc = add_change_text(
            ca, lh__c_sfmt(&c->scratch, "new suspect %s (%s%s%s)%s", ch->deploy_id,
                           ch->service ? ch->service : "unknown service", ch->version ? " " : "",
                           ch->version ? ch->version : "",
                           ch->late ? lh__c_sfmt(&c->scratch,
                                                 ", which arrived after the %s (late data)", noun)
                                    : ""));
    }
    if (!rc && !created && prev && prev->n_suspects && prev->suspects[0].deploy_id &&
        strcmp(prev->suspects[0].deploy_id, c->chg[0].deploy_id) != 0)
        rc = add_change_text(ca, lh__c_sfmt(&c->scratch, "top suspect is now %s (was %s)",
                                            c->chg[0].deploy_id, prev->suspects[0].deploy_id));
    if (!rc && !created && k.resolved && oc->open) {
        rc = add_change_text(ca, lh__c_sfmt(&c->scratch, "%s is open again", oc_phrase(c, oc)));
        k.resolved = 0;
    }
    if (rc)
        goto out;

    if (!created && !joined && ca->n_changes == 0) {
        /* the same conclusion: nothing to publish; new pairs are recorded with the revision
         * that named them already. The shortcut above did not decide it, so the next conclusion
         * from the same rows reads the published revision again, which retention may delete:
         * no memo */
        *rereads = 1;
        for (size_t i = 0; !rc && i < c->n_show; i++)
            if (c->chg[i].is_new)
                rc = lh__c_pair_write(c, oc->first_seq, &c->chg[i], (int)i + 1, now_ns, prev_seq);
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
    if (lh__c_dup_str(&ca->id, k.id) || lh__c_dup_str(&ca->service, k.service) ||
        lh__c_dup_str(&ca->environment, k.env)) {
        rc = LH_ENOMEM;
        goto out;
    }
    if ((rc = add_suspects(c, ca, oc->env)) < 0)
        goto out;
    int open;
    if (created) {
        /* a new case stands for this outcome alone: no need to read it back */
        lh_ca_outcome_t *co = lh_correlated_add_outcome(ca);
        if (!co || lh__c_dup_str(&co->ref, oc->ref) || lh__c_dup_str(&co->event_id, oc->event_id) ||
            lh__c_dup_str(&co->title, oc->title)) {
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
    int written = lh__c_write_alert(c, ca, oc->first_seq, tseq, 0, &aseq);
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
        rc = lh__c_pair_write(c, oc->first_seq, &c->chg[i], (int)i + 1, now_ns, aseq);
    if (!rc)
        rc = written;
out:
    lh_correlated_destroy(&prev);
    lh_correlated_destroy(&ca);
    return rc;
}

/* Concludes outcome oc (its facts already written), triggered by the event at tseq: finds its
 * suspects, decides its case (its own, an open one with the same suspects, or a new one) and
 * publishes a revision when the conclusion changed; its cache entry remembers what it read.
 * Returns alerts written (0 or 1). */
int
lh__c_conclude(lh_correlator_t *c, outcome_t *oc, int dirty, int64_t tseq, const lh_event_t *trig,
               int late, int64_t now_ns)
{
    int rereads = 0;
    int rc = conclude(c, oc, dirty, tseq, trig, late, now_ns, &rereads);
    if (rc >= 0)
        memo_set(c, oc, !rereads);
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
    int64_t prev_seq = 0, prev_origin = 0;
    if (!ca)
        return LH_ENOMEM;
    /* only the case's last open outcome closes it: count before building anything */
    sqlite3_stmt *s = c->stmt[LH_CSQL_CASE_OPEN];
    if (lh__c_bind_text(s, 1, k.id) != SQLITE_OK || (rc = sqlite3_step(s)) != SQLITE_ROW) {
        rc = lh__c_sql_fail(c, LH_CSQL_CASE_OPEN);
        goto out;
    }
    int open = sqlite3_column_int(s, 0);
    lh__c_sql_done(s);
    rc = 0;
    if (open)
        goto out;
    if ((rc = case_outcomes(c, k.id, ca, &open, &ca->resolved_ns)) < 0 || open)
        goto out;
    if ((rc = alert_load(c, k.id, k.revision, &prev, &prev_seq, &prev_origin)) < 0 || !prev)
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
    if (lh__c_dup_str(&ca->id, k.id) || lh__c_dup_str(&ca->service, k.service) ||
        lh__c_dup_str(&ca->environment, k.env)) {
        rc = LH_ENOMEM;
        goto out;
    }
    char when[40] = "", ttr[32] = "";
    lh_time_format(ca->resolved_ns, when, sizeof(when));
    if (lh_duration_human(lh__c_sat_sub(ca->resolved_ns, k.time), ttr, sizeof(ttr)) < 0)
        snprintf(ttr, sizeof(ttr), "0s");
    rc = add_change_text(ca,
                         lh__c_sfmt(&c->scratch, "resolved: %s resolved at %s, %s after it began",
                                    oc_phrase(c, oc), when, ttr));
    if (!rc)
        rc = alert_outcome(c, ca, tseq, trig);
    if (rc)
        goto out;
    int64_t aseq = 0;
    /* the suspects as published: by reference to the revision that has them */
    int written = lh__c_write_alert(c, ca, oc->first_seq, tseq, prev_origin, &aseq);
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

/* ---- the outcome path ------------------------------------------------------------------------ */

/* Outcome path: ev (an incident, or a monitoring alert) is stored at seq. Finds or starts its
 * outcome, adds ev's facts, and concludes or resolves. Returns alerts written. */
int
lh__c_correlate_outcome(lh_correlator_t *c, const lh_event_t *ev, int64_t seq, int64_t now_ns)
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
            okey = lh__c_sfmt(&c->scratch, "alert\x1f%s\x1f%s\x1f%lld",
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
    const char *artifact = lh__c_outcome_artifact(ev);
    if (artifact && !oc.artifact) {
        oc.artifact = artifact;
        changed = 1;
    }
    if (ev->time_ns < oc.time) {
        oc.time = ev->time_ns; /* the outcome began when its earliest event says */
        changed = 1;
    }
    if (ev->kind == LH_KIND_INCIDENT && (int)ev->incident.severity > oc.severity) {
        oc.severity = (int)ev->incident.severity; /* for `loophub dora` (minimum severity) */
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
    if (!changed && memo_holds(c, &oc)) {
        c->stats.hits[LH_CORR_CACHE_CONCLUSIONS]++;
        return 0; /* nothing its last conclusion read was written since: it stands */
    }
    c->stats.misses[LH_CORR_CACHE_CONCLUSIONS]++;
    return lh__c_conclude(c, &oc, changed, seq, ev, 0, now_ns);
}
