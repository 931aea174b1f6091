/*
 * query.h - read-only queries over the timeline store: the postmortem timeline
 * (docs/correlation.md, README.md `loophub timeline`). The request and its selectors
 * are public (loophub/timeline.h); this module runs them against a store.
 *
 * A query reads a store opened read-only (or the hub's own, between batches: lh_hub_timeline())
 * and writes one document into a caller's lh_buf_t: aligned human text, or one JSON document (the
 * same JSON the HTTP API serves at GET /v1/timeline).
 */
#ifndef LOOPHUB_QUERY_H
#define LOOPHUB_QUERY_H

#include <jansson.h>
#include <stdint.h>

#include "loophub/buf.h"
#include "loophub/report.h"
#include "loophub/timeline.h"
#include "store.h"

/* Runs the timeline query and appends the document to out (text ends with a newline; JSON is
 * one object without one). Returns 0; LH_EINVAL for an incomplete request (no mode, missing id,
 * service without environment, negative limit or window, a period ending before it starts);
 * LH_ENOTFOUND when the deploy id, or the incident selector (an incident id, an outcome's event
 * id or a correlated alert id), is not in the store (nothing is appended); LH_ESTORE on a
 * database error (logged); LH_ENOMEM.
 * On error out may hold a partial document: callers reset it. The store is only read. */
int lh_query_timeline(lh_store_t *st, const lh_timeline_req_t *req, lh_query_format_t fmt,
                      lh_buf_t *out);

/* lh_query_timeline() over the stores of several hubs read as one (a scaled-out group): each is
 * queried, and the answers of those that know the subject are merged, events deduplicated by id
 * (docs/kafka.md). n is 1..LH_QUERY_MAX_STORES. Returns as lh_query_timeline(), LH_ENOTFOUND
 * when no store knows the subject. */
#define LH_QUERY_MAX_STORES 16
int lh_query_timeline_stores(lh_store_t *const *st, size_t n, const lh_timeline_req_t *req,
                             lh_query_format_t fmt, lh_buf_t *out);

/* Runs a report (loophub/report.h: deployed, audit) and appends its document to out, as
 * lh_query_timeline() does. Returns 0; LH_EINVAL for a bad request (no kind, a period ending
 * before it starts, a negative limit); LH_ESTORE (logged); LH_ENOMEM. The store is only read. */
int lh_query_report(lh_store_t *st, const lh_report_req_t *req, lh_query_format_t fmt,
                    lh_buf_t *out);

/* A dora report's groups handed to fn one at a time as each is made (the entry of "groups" of
 * its JSON document, lent for the call: fn returns 0, or an error that ends the report), never
 * held together: for a caller that reads a few figures of each (the DORA gauges of /metrics)
 * without the document of thousands of groups, its text and its parse. Returns as
 * lh_query_report(), or fn's error; LH_EINVAL for a report other than dora. */
typedef int (*lh_report_group_fn)(const json_t *entry, void *arg);
int lh__query_report_groups(lh_store_t *st, const lh_report_req_t *req, lh_report_group_fn fn,
                            void *arg);

/* lh__query_report_groups() of a report by "service+env" over every environment (req->service
 * and req->environment NULL), read one environment at a time: the same groups with the same
 * figures (nothing of a report by service and environment crosses environments), in name order
 * within each environment's and not across them, but holding only one environment's changes and
 * incidents at once (at most LH_DORA_ENV_PASSES passes: with more environments, each pass takes
 * several). LH_EINVAL for another report. */
#define LH_DORA_ENV_PASSES 8
int lh__query_report_groups_by_env(lh_store_t *st, const lh_report_req_t *req,
                                   lh_report_group_fn fn, void *arg);

/* Test only, process-wide: how `dora` and `deployed` read a large store. 0 (the default): on
 * two threads, each with its own connection, sharing the work as they get to it; 1: on the
 * caller's thread and connection alone; 2: on two threads, the second taking one piece of the
 * work only (dora: the first chunk of changes, and half of the incidents to link however few;
 * deployed: the first service). */
void lh__q_test_threads(int mode);

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

/* The event time before which retention deleted events of kind (0 when it never did). Returns 0,
 * LH_EINVAL or LH_ESTORE. */
int lh_query_expired_before(lh_store_t *st, lh_kind_t kind, int64_t *before_ns);

/* Classifies the change deploy_id. Precedence: rolled_back, failed, suspect, pending, healthy.
 * The change's time is its first event's; it is pending while now_ns < time + window_ns
 * (now_ns 0: the wall clock) and no outcome is correlated with it. Returns 0 and *out,
 * LH_ENOTFOUND (no deploy event with that id), LH_EINVAL or LH_ESTORE. */
int lh_query_change_class(lh_store_t *st, const char *deploy_id, int64_t window_ns, int64_t now_ns,
                          lh_change_class_t *out);

#endif
