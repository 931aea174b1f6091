/*
 * correlator_internal.h - what the correlator's two files share: correlator.c (changes,
 * candidates, the score's reasons, pairs, the deploy path, the module's entry points) and
 * outcome.c (outcomes, cases and their revisions: the outcome path). Nothing outside
 * hub/correlate sees this.
 */
#ifndef LOOPHUB_CORRELATOR_INTERNAL_H
#define LOOPHUB_CORRELATOR_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "correlator.h"
#include "correlator_sql.h"
#include "loophub/buf.h"
#include "loophub/correlated.h"
#include "loophub/event.h"

#define COMPONENT "correlator"
#define MAX_REASONS 8
#define MEMO_SCOPES 8 /* the scopes a conclusion's memo names at most (outcome.c) */

/* ---- scratch: strings that live until the next correlation run (correlator.c) ------------ */

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

void *lh__c_scratch_alloc(scratch_t *s, size_t n); /* 8-aligned */
char *lh__c_scratch_strndup(scratch_t *s, const char *p, size_t n);
const char *lh__c_sfmt(scratch_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- a change: every deploy event of one deploy_id in one environment ---------------------- */

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
    size_t n_show; /* lh__c_gather(): the suspects an alert lists, at most o.max_suspects */
    size_t n_more; /* lh__c_gather(): related changes left out of the alert */
    int truncated; /* collect() stopped at its limit */
    int64_t *oseq;
    size_t n_oseq, cap_oseq;
    lh_buf_t json;
    lh_buf_t pb;
    int64_t max_pair_oseq; /* no pair exists for a higher outcome seq (the hint above) */
    struct centry *cache;  /* cache_slots changes, or NULL (uncached) */
    size_t cache_slots;
    uint64_t cache_discards;
    struct oentry **ocache; /* outcome.c: ocache_slots outcome lookups, or NULL (uncached) */
    size_t ocache_slots;
    int64_t ocache_expired;      /* lh__store_outcomes_expired_to() as the cache last saw it */
    lh_correlator_stats_t stats; /* lh_correlator_stats() */
    char *require;               /* o.require_approved_ticket points here (a copy) */
    /* What a conclusion read, for its memo (outcome.c, "memo"): by scope (the rows of a
     * service, a host or an artifact in an environment, a change, a case), hashed into
     * touched_slots, the tick of the last write into it. A memo made at tick m holds while none
     * of its scopes was written after m and m is above memo_floor. */
    uint64_t *touched; /* NULL: no memos */
    size_t touched_slots;
    uint64_t tick;              /* raised by every write into a scope and every memo */
    uint64_t memo_floor;        /* memos made up to this tick are void (new options) */
    uint32_t cand[MEMO_SCOPES]; /* lh__c_gather(): the scopes of the changes it found */
    size_t n_cand;              /* their number (more than MEMO_SCOPES: too many to name) */
};

/* ---- one outcome (outcome.c) ------------------------------------------------------------ */

/* One outcome (table `outcomes`): an incident's lifecycle, or one firing period of a monitoring
 * alert. Strings point into the scratch. */
typedef struct outcome {
    const char *okey, *ref, *service, *env, *event_id, *title, *hosts, *artifact, *case_id;
    const char *top;     /* an incident's top suspect (deploy id) as last concluded; alerts: NULL */
    int64_t top_started; /* and when that change started (its earliest event then) */
    int kind;
    int64_t time, first_seq, resolved;
    int open;
    int severity; /* an incident's highest (lh_severity_t), 0: none given; alerts keep 0 */
    int found;
    /* the memo of its last conclusion, as the outcome cache held it (memo_at 0: none) */
    uint64_t memo_at;
    size_t memo_n;
    uint32_t memo[MEMO_SCOPES];
    /* the row as stored (found): oc_put() writes only the columns of the indexes whose key
     * changed, since an UPDATE that sets an indexed column rewrites its index entry even when
     * the value is the same (a random page of oc_ref, oc_case or oc_dora) */
    struct {
        const char *case_id, *top;
        int64_t time, resolved, top_started;
        int open, severity;
    } was;
} outcome_t;

/* ---- SQLite helpers (correlator.c): a failed statement is logged and reset, LH_ESTORE ------ */

int lh__c_sql_fail(lh_correlator_t *c, int which);
void lh__c_sql_done(sqlite3_stmt *s);
int lh__c_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Binds the (key, environment, from, to) quadruple shared by every lookup. */
int lh__c_bind_lookup(sqlite3_stmt *s, const char *key, const char *env, int64_t from, int64_t to);
int64_t lh__c_sat_add(int64_t a, int64_t b);
int64_t lh__c_sat_sub(int64_t a, int64_t b);
int lh__c_dup_str(char **dst, const char *s);

/* ---- correlator.c --------------------------------------------------------------------------- */

/* The caches' hash of (key, environment) continued from h; NULL and "" are different
 * environments. */
uint64_t lh__c_key_hash(uint64_t h, const char *key, const char *env);
/* lh__c_test_caches(): 0 the caches as built, 1 none, 2 four entries each. */
extern int lh__c_test_cache_mode;
/* Iterates a space-separated host list: the next token and its length, or NULL. */
const char *lh__c_next_host(const char **p, size_t *len);
int lh__c_hosts_contain(const char *hosts, const char *h);
const char *lh__c_outcome_artifact(const lh_event_t *o);
/* Decodes the stored canonical protobuf of the event at seq. */
int lh__c_load_event(lh_correlator_t *c, int64_t seq, lh_event_t **out);
/* The version of the last succeeded change of service in env before `before` (not skip);
 * *out NULL when history knows none. */
int lh__c_last_good(lh_correlator_t *c, const char *service, const char *env, int64_t before,
                    const char *skip, const char **out);
/* Scope tags, and the slot of (tag, key, environment) in c->touched. */
enum {
    LH__SCOPE_SERVICE = 'S',
    LH__SCOPE_HOST = 'H',
    LH__SCOPE_ARTIFACT = 'A',
    LH__SCOPE_CHANGE = 'D',
    LH__SCOPE_CASE = 'C'
};
uint32_t lh__c_scope(const lh_correlator_t *c, int tag, const char *key, size_t len,
                     const char *env);
/* A write into the scope (key NULL: none): the memos that name it no longer hold. */
void lh__c_touch(lh_correlator_t *c, int tag, const char *key, const char *env);
/* Finds and ranks the suspects of outcome o (recorded at oseq) into c->chg; c->n_show of them
 * are listed, c->n_more counted; c->cand names the scopes of every change it found. Returns
 * their number or an error. */
int lh__c_gather(lh_correlator_t *c, const lh_event_t *o, int64_t oseq, int late);
/* Writes a pair's latest conclusion (a new pair inserted, a known one updated). */
int lh__c_pair_write(lh_correlator_t *c, int64_t oseq, const change_t *ch, int rank, int64_t now_ns,
                     int64_t aseq);

/* ---- outcome.c -------------------------------------------------------------------------- */

/* The cache of outcome lookups: made with the correlator (optional: NULL runs uncached), cleared
 * when a transaction's writes were discarded, freed with it. */
int lh__c_ocache_init(lh_correlator_t *c);
void lh__c_ocache_clear(lh_correlator_t *c);
void lh__c_ocache_free(lh_correlator_t *c);
/* The outcome an outcome event of the store belongs to (oc->found 0: none). */
int lh__c_oc_of(lh_correlator_t *c, const lh_event_t *ev, outcome_t *oc);
/* Concludes outcome oc, triggered by the event at tseq (trig); dirty: its row is not written
 * yet. Publishes a revision when the conclusion changed. Returns alerts written (0 or 1). */
int lh__c_conclude(lh_correlator_t *c, outcome_t *oc, int dirty, int64_t tseq,
                   const lh_event_t *trig, int late, int64_t now_ns);
/* The outcome path: ev, an incident or monitoring alert event stored at seq. Alerts written. */
int lh__c_correlate_outcome(lh_correlator_t *c, const lh_event_t *ev, int64_t seq, int64_t now_ns);
/* Writes revision ca->revision of alert ca into the outbox (outcome oseq, made by the event at
 * tseq; repeating the suspects of revision same_as, 0: none); *aseq gets its seq. Returns 1 when
 * written, 0 when that revision existed already. */
int lh__c_write_alert(lh_correlator_t *c, lh_correlated_t *ca, int64_t oseq, int64_t tseq,
                      int64_t same_as, int64_t *aseq);

/* ---- unapproved.c: the require_approved_ticket rule ------------------------------------ */

/* Whether env is one of the rule's environments. */
int lh__c_requires_ticket(const lh_correlator_t *c, const char *env);
/* Change ch (loaded), one of whose events ev (stored at seq) just arrived in an environment of
 * the rule: raises its unapproved_change alert unless a ticket approved it before it started
 * or the alert exists. Returns alerts written (0 or 1). */
int lh__c_unapproved(lh_correlator_t *c, const change_t *ch, const lh_event_t *ev, int64_t seq,
                     int64_t now_ns);

#endif
