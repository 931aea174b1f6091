/*
 * query.h - read-only queries over the timeline store: the postmortem timeline
 * (docs/correlation.md, README.md `loophub timeline`).
 *
 * A query reads a store opened read-only (or the hub's own, between batches) and writes one
 * document into a caller's lh_buf_t: aligned human text, or one JSON document (the same JSON
 * the HTTP API serves at GET /v1/timeline). Nothing is cut silently: a request limit caps the
 * events shown and the document then says how many were left out.
 *
 * Three selectors:
 *  - incident: the incident's events (all states, time order), the suspects the correlator
 *    recorded, the alerts sent, linked tickets, and the resolution time;
 *  - deploy: the change (all events of one deploy_id), its outcomes, linked tickets and the
 *    change's outcome class (pending, healthy, suspect, failed, rolled_back);
 *  - service: every event of one service and environment since a moment, with the
 *    correlated alerts of those outcomes.
 */
#ifndef LOOPHUB_QUERY_H
#define LOOPHUB_QUERY_H

#include <stdint.h>

#include "loophub/buf.h"
#include "store.h"

typedef enum {
    LH_TIMELINE_NONE = 0,
    LH_TIMELINE_INCIDENT = 1,
    LH_TIMELINE_DEPLOY = 2,
    LH_TIMELINE_SERVICE = 3,
} lh_timeline_mode_t;

typedef enum {
    LH_QUERY_TEXT = 0, /* aligned human lines */
    LH_QUERY_JSON = 1, /* one JSON document, compact, no trailing newline */
} lh_query_format_t;

/* "text", "json". Parser returns 0 or LH_EINVAL. */
const char *lh_query_format_name(lh_query_format_t f);
int lh_query_format_parse(const char *s, lh_query_format_t *out);

typedef struct lh_timeline_req {
    lh_timeline_mode_t mode;
    const char *incident_id; /* LH_TIMELINE_INCIDENT */
    const char *deploy_id;   /* LH_TIMELINE_DEPLOY */
    const char *service;     /* LH_TIMELINE_SERVICE, with environment */
    const char *environment;
    int64_t since_ns;       /* service: how far back from now (default 24h) */
    int64_t window_ns;      /* deploy: correlation window deciding "pending" (default 2h) */
    int64_t now_ns;         /* 0: the wall clock */
    int64_t limit;          /* max events shown; 0: all */
    const char *store_name; /* how the store is named in text ("loophub.db"); NULL: none */
} lh_timeline_req_t;

/* Fills the defaults above (mode NONE, since 24h, window 2h, now 0, limit 0). */
void lh_timeline_req_default(lh_timeline_req_t *r);

/* Runs the timeline query and appends the document to out (text ends with a newline; JSON is
 * one object without one). Returns 0; LH_EINVAL for an incomplete request (no mode, missing id,
 * service without environment, negative limit); LH_ENOTFOUND when the incident or deploy id is
 * not in the store (nothing is appended); LH_ESTORE on a database error (logged); LH_ENOMEM.
 * On error out may hold a partial document: callers reset it. The store is only read. */
int lh_query_timeline(lh_store_t *st, const lh_timeline_req_t *req, lh_query_format_t fmt,
                      lh_buf_t *out);

/* A change's outcome class (docs/correlation.md). */
typedef enum {
    LH_CHANGE_PENDING = 0,     /* window still open and no outcome yet */
    LH_CHANGE_HEALTHY = 1,     /* window closed (or outcomes only as a lesser suspect) */
    LH_CHANGE_SUSPECT = 2,     /* the top-ranked suspect of at least one outcome */
    LH_CHANGE_FAILED = 3,      /* one of its events has status failed */
    LH_CHANGE_ROLLED_BACK = 4, /* one of its events has status rolled_back */
} lh_change_class_t;

/* "pending", "healthy", "suspect", "failed", "rolled_back"; NULL when out of range. */
const char *lh_change_class_name(lh_change_class_t c);

/* Classifies the change deploy_id. Precedence: rolled_back, failed, suspect, pending, healthy.
 * The change's time is its first event's; it is pending while now_ns < time + window_ns
 * (now_ns 0: the wall clock) and no outcome is correlated with it. Returns 0 and *out,
 * LH_ENOTFOUND (no deploy event with that id), LH_EINVAL or LH_ESTORE. */
int lh_query_change_class(lh_store_t *st, const char *deploy_id, int64_t window_ns, int64_t now_ns,
                          lh_change_class_t *out);

#endif
