/*
 * query_internal.h - what the query module's files share: the query context and the helpers
 * each file gives the others. query.c validates a request and runs it; query_gather.c reads the
 * store into the context's JSON document and event lists; query_doc.c holds the JSON helpers
 * (on failure they record LH_ENOMEM in q->err, and once q->err is set every helper does nothing);
 * query_text.c renders the document as aligned text.
 */
#ifndef LOOPHUB_QUERY_INTERNAL_H
#define LOOPHUB_QUERY_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "loophub/buf.h"
#include "loophub/event.h"
#include "loophub/report.h"
#include "query.h"

/* Decoded events of one list: seqs and events in time order. */
typedef struct qlist {
    lh_event_t **ev;
    int64_t *seq; /* parallel to ev */
    size_t n, cap;
    int64_t total; /* rows matched, decoded or not */
} qlist_t;

typedef struct qctx {
    lh_store_t *st;
    sqlite3 *db;
    const lh_timeline_req_t *req; /* a timeline; NULL for a report */
    const lh_report_req_t *rreq;  /* a report (query_report.c); NULL for a timeline */
    int64_t now;
    int64_t from, to; /* service: the period, inclusive */
    int err;          /* first error; once set, helpers do nothing */
    int64_t unreadable;
    json_t *doc;
    qlist_t events;   /* the main list */
    qlist_t outcomes; /* deploy mode: outcome events, parallel to doc.outcomes */
    qlist_t tickets;  /* parallel to doc.tickets */
    qlist_t *changes; /* incident mode: each suspect's change events, parallel to doc.suspects */
    size_t n_changes;
    qlist_t others; /* incident mode: the other alerts in the window, parallel to doc */
    lh_buf_t *out;
    lh_query_format_t fmt;
    lh_report_group_fn on_group; /* dora: each group's entry to it as made, not into doc */
    void *on_group_arg;
    /* dora, one pass of lh__query_report_groups_by_env(): only the changes and incidents of
     * these environments (sorted, "" for none: NULL and "" are one group by service+env);
     * n_envs 0: of every one */
    char *const *envs;
    size_t n_envs;
} qctx_t;

/* --- query_report.c --- */

/* qsort()'s order of an array of strings, by strcmp(). */
int lh__q_cmp_str(const void *a, const void *b);

/* --- query_gather.c: reading the store --- */

void lh__q_bind_text(sqlite3_stmt *s, int i, const char *v);
const char *lh__q_col_text(sqlite3_stmt *s, int i);
int lh__q_step(qctx_t *q, sqlite3_stmt *s);
int lh__q_list_push(qctx_t *q, qlist_t *l, lh_event_t *ev, int64_t seq);
void lh__q_gather_deploy(qctx_t *q);
void lh__q_gather_incident(qctx_t *q); /* query_outcome.c */
void lh__q_gather_service(qctx_t *q);
void lh__q_list_free(qlist_t *l);
void lh__q_load_events(qctx_t *q, sqlite3_stmt *s, qlist_t *l, int64_t decode);
int lh__q_load_subject(qctx_t *q, const char *sql, const char *id);
sqlite3_stmt *lh__q_prep(qctx_t *q, const char *sql);
/* A second read-only connection to q's store, for a report that reads on two threads (each
 * statement reads its own snapshot either way); NULL when the store is not a file or cannot be
 * opened again: then the caller reads on its own. */
sqlite3 *lh__q_open_twin(qctx_t *q);
/* lh__q_test_threads()'s mode (query.h), 0 but in tests. */
extern int lh__q_threads_mode;

/* --- query_doc.c: building the JSON document --- */

/* The events of l shown: the newest `shown` (l->ev[l->n - shown] ...). */
void lh__q_doc_events(qctx_t *q, const qlist_t *l, size_t shown);
void lh__q_change_json(qctx_t *q, json_t *o, lh_event_t *const *ev, size_t n);
json_t *lh__q_event_json(qctx_t *q, const lh_event_t *ev);
void lh__q_gather_tickets(qctx_t *q, const char *id, const char *ticket_id);
int64_t lh__q_ji(const json_t *o, const char *k);
void lh__q_jpush(qctx_t *q, json_t *arr, json_t *v);
json_t *lh__q_jreasons(const char *text);
const char *lh__q_js(const json_t *o, const char *k);
void lh__q_jset(qctx_t *q, json_t *obj, const char *key, json_t *v);
json_t *lh__q_jstr(const char *s);
json_t *lh__q_jtime(int64_t ns);
size_t lh__q_shown_of(const qctx_t *q, const qlist_t *l);

/* --- query_text.c: rendering the document as text --- */

/* Appends formatted text to q->out (nothing once q->err is set). */
void lh__q_tprintf(qctx_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (NULL: "-") with control characters replaced by spaces, padded to width columns. */
void lh__q_tput(qctx_t *q, const char *s, int width);
/* Appends an RFC 3339 time ("-" for 0), padded to width columns. */
void lh__q_ttime(qctx_t *q, int64_t ns, int width);
/* Wraps every line of out after byte `from` longer than width columns at a space, the rest
 * indented under the line's own indentation (plus 4): the 100 columns text output keeps to.
 * Returns 0 or LH_ENOMEM. */
#define LH_TEXT_WIDTH 100
int lh__q_text_fit(lh_buf_t *out, size_t from, int width);
/* Columns s takes on a terminal (UTF-8 continuation bytes count nothing; NULL: 1, for "-"). */
int lh__q_ustrlen(const char *s);

void lh__q_text_change(qctx_t *q, const json_t *o, const char *indent);
void lh__q_text_deploy(qctx_t *q);
void lh__q_text_incident(qctx_t *q);
void lh__q_text_service(qctx_t *q);
/* The document's "expired_before", as a closing note (nothing when retention deleted nothing). */
void lh__q_text_expired(qctx_t *q);

/* --- query_report.c, query_deployed.c, query_audit.c: the reports --- */

void lh__q_gather_deployed(qctx_t *q);
void lh__q_text_deployed(qctx_t *q);
void lh__q_gather_audit(qctx_t *q);
void lh__q_text_audit(qctx_t *q);
void lh__q_gather_dora(qctx_t *q); /* query_dora.c */
void lh__q_text_dora(qctx_t *q);
/* The changes (a deploy id in one environment) with a deploy event in q's period, each once, in
 * the order of their newest such event, newest first (ev_deploy_svc, one 4-hour bucket at a
 * time; the request's service and environment filter them). fn returns 1 to stop: then
 * *stopped_at is the time of the event of the change not taken, and the walk returns 1. */
typedef int (*lh__q_change_fn)(qctx_t *q, void *arg, const char *deploy_id, const char *env);
int lh__q_walk_changes(qctx_t *q, lh__q_change_fn fn, void *arg, int64_t *stopped_at);
/* Splits a space-separated hosts column into a JSON array of strings (NULL or "": empty). */
json_t *lh__q_split_hosts(const char *hosts);

/* --- query_outcome.c: tickets --- */

/* Ticket events (time order) summed up per ticket id: type, latest state, approval (the latest
 * approved or rejected state, "none" before either), approval_time, url, summary, events. */
json_t *lh__q_ticket_summary(qctx_t *q, const qlist_t *l);

/* --- query_html.c: the documents as HTML pages (standalone, or the hub's web page), and the
 * timeline as Markdown --- */

void lh__q_html_timeline(qctx_t *q);
void lh__q_html_report(qctx_t *q);
void lh__q_md_timeline(qctx_t *q);

/* query_merge.c: merges the answers q[0..n) of several stores (each q->err 0 or LH_ENOTFOUND)
 * into the first that found the subject; returns its index, or LH_ENOTFOUND / an error. */
int lh__q_merge_stores(qctx_t *q, size_t n);

/* query.c: the document in q->fmt, JSON or text (text() renders it, then the expired note and
 * the fit to LH_TEXT_WIDTH). */
void lh__q_emit(qctx_t *q, void (*text)(qctx_t *));
/* query.c: appends the document as compact JSON to q->out. */
void lh__q_doc_dump(qctx_t *q);

/* query.c: adds "expired_before" to the document when retention deleted events. */
void lh__q_doc_expired(qctx_t *q);

#endif
