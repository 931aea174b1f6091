/*
 * correlator.h - links changes (deploys) to what followed them and writes correlated alerts.
 *
 * Semantics: docs/correlation.md. The correlator keeps no state of its own beyond configuration
 * and caches of what the store answered (docs/architecture.md): it looks everything up in the
 * store (partial indexes over deploys and outcomes; the tables outcomes, outcome_events, cases
 * and correlations), so a restart needs no rebuild and several hubs can never disagree with their
 * stores. It runs inside the batch transaction, right after each event is stored:
 *  - an incident or monitoring alert event joins its outcome (an incident's lifecycle, an alert's
 *    firing period); the outcome is concluded over everything known of it, and its correlated
 *    alert (one per outcome, or per group of outcomes with the same suspects) is revised in the
 *    outbox when the conclusion changed, or closed when the outcome was its last open one;
 *  - a deploy looks forward for outcomes already stored that it precedes (late data) and
 *    concludes each again; suspects found that way are marked late.
 * Revisions are decided against the one published last, so re-delivery never alerts twice.
 */
#ifndef LOOPHUB_CORRELATOR_H
#define LOOPHUB_CORRELATOR_H

#include <stdint.h>

#include "loophub/correlated.h"
#include "loophub/event.h"
#include "store.h"

typedef struct lh_correlator lh_correlator_t;

typedef struct lh_correlator_opts {
    int64_t window_ns;                /* default 2h */
    lh_severity_t alert_min_severity; /* default error */
    int64_t group_window_ns;          /* default 10m; 0: outcomes never join an open alert */
    int max_suspects;                 /* suspects an alert lists (default 10, 1..1000) */
    /* environments, comma-separated ("prod,staging"), where a change needs a ticket approved
     * before it started: else an unapproved_change alert (approval.h); NULL or "": none.
     * Copied by lh_correlator_new(). */
    const char *require_approved_ticket;
} lh_correlator_opts_t;

void lh_correlator_opts_default(lh_correlator_opts_t *o);

/* Returns 0 and *out, or LH_ENOMEM / LH_ESTORE (statements are prepared here). The store must
 * outlive the correlator. */
int lh_correlator_new(lh_store_t *st, const lh_correlator_opts_t *o, lh_correlator_t **out);
void lh_correlator_destroy(lh_correlator_t **c);
/* The options a running hub may change (SIGHUP): window, group window, alert minimum severity,
 * the environments that need an approved ticket; max_suspects stays. They apply to the events
 * correlated from now on. Returns 0, LH_EINVAL (nothing changed) or LH_ENOMEM. */
int lh_correlator_set_opts(lh_correlator_t *c, const lh_correlator_opts_t *o);

/* 1 when ev is an outcome under the options (incident; firing alert >= min severity). */
int lh_correlator_is_outcome(const lh_correlator_t *c, const lh_event_t *ev);

/* Fills what the store's history knows and ev does not say, before ev is stored: a deploy
 * without previous_version gets the version of the last change of its service and environment
 * before it whose latest status is succeeded (previous_version_derived = 1). Returns 0 (also when
 * history knows none), LH_ESTORE or LH_ENOMEM. */
int lh_correlator_enrich(lh_correlator_t *c, lh_event_t *ev);

/* Correlates ev, stored at seq in the current transaction. Writes correlations and outbox
 * alerts. Returns the number of alerts written (0 or more), or LH_ESTORE / LH_ENOMEM, in which
 * case the caller rolls the batch back. */
int lh_correlator_add(lh_correlator_t *c, const lh_event_t *ev, int64_t seq, int64_t now_ns);

/* What the correlator's caches answered since it was made, by cache: lookups found in it (hits)
 * or read from the store (misses). Conclusions, per alert or incident notification that leads to
 * one: its outcome's last conclusion stood (hit), or it was concluded (miss). */
enum {
    LH_CORR_CACHE_CHANGES,
    LH_CORR_CACHE_OUTCOMES,
    LH_CORR_CACHE_CONCLUSIONS,
    LH_CORR_CACHE__COUNT
};
typedef struct lh_correlator_stats {
    uint64_t hits[LH_CORR_CACHE__COUNT], misses[LH_CORR_CACHE__COUNT];
} lh_correlator_stats_t;
void lh_correlator_stats(const lh_correlator_t *c, lh_correlator_stats_t *out);

/* Tests: the caches (changes, outcome lookups) of the correlators created from now on: 0 as
 * built, 1 none, 2 four entries each (every path of eviction taken), so that runs can be
 * compared. */
void lh__c_test_caches(int mode);

#endif
