/*
 * query.c - the postmortem timeline (`loophub timeline`, GET /v1/timeline).
 *
 * A query gathers what the store knows into one JSON document (jansson): the events, decoded
 * from their canonical protobuf and written in loophub's JSON form, and the correlator's
 * conclusions read from `correlations` and `alerts`. The JSON format is that document; the
 * text format is rendered from the same document plus the decoded events, so the two can never
 * disagree about what they show.
 *
 * Invariants:
 *  - the store is only read (SELECT statements of query_sql.h);
 *  - nothing is cut silently: every document carries "total", "truncated" and "left_out" for
 *    its events; a limit keeps the newest events and only caps the events shown, never
 *    suspects, outcomes, alerts or tickets;
 *  - a stored event that cannot be decoded is skipped with a log line and counted in the
 *    document ("unreadable"), never dropped without a trace;
 *  - strings from events are printed in text with control characters replaced, so a title
 *    cannot break or forge lines on a terminal.
 *
 * This file checks a request and runs it: query_gather.c reads the store, query_doc.c builds
 * the JSON, query_text.c renders text (query_internal.h is what they share).
 */
#include "query.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "query_internal.h"
#include "query_sql.h"

/* --- names -------------------------------------------------------------------------------- */

const char *
lh_query_format_name(lh_query_format_t f)
{
    switch (f) {
    case LH_QUERY_TEXT:
        return "text";
    case LH_QUERY_JSON:
        return "json";
    case LH_QUERY_MD:
        return "md";
    case LH_QUERY_HTML:
        return "html";
    case LH_QUERY_PAGE:
        return "page";
    }
    return NULL;
}

int
lh_query_format_parse(const char *s, lh_query_format_t *out)
{
    if (!s)
        return LH_EINVAL;
    if (strcmp(s, "text") == 0)
        *out = LH_QUERY_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LH_QUERY_JSON;
    else if (strcmp(s, "md") == 0)
        *out = LH_QUERY_MD;
    else if (strcmp(s, "html") == 0)
        *out = LH_QUERY_HTML;
    else
        return LH_EINVAL;
    return 0;
}

const char *
lh_change_class_name(lh_change_class_t c)
{
    switch (c) {
    case LH_CHANGE_PENDING:
        return "pending";
    case LH_CHANGE_HEALTHY:
        return "healthy";
    case LH_CHANGE_SUSPECT:
        return "suspect";
    case LH_CHANGE_FAILED:
        return "failed";
    case LH_CHANGE_ROLLED_BACK:
        return "rolled_back";
    }
    return NULL;
}

void
lh_timeline_req_default(lh_timeline_req_t *r)
{
    memset(r, 0, sizeof(*r));
    r->mode = LH_TIMELINE_NONE;
    r->since_ns = 24 * 3600 * LH_NS_PER_SEC;
    r->window_ns = 2 * 3600 * LH_NS_PER_SEC;
}

int
lh_timeline_moment_parse(const char *s, int64_t *at_ns, int64_t *ago_ns)
{
    int64_t v = 0;
    if (!s || !*s || !at_ns || !ago_ns)
        return LH_EINVAL;
    if (lh_duration_parse(s, &v) == 0) {
        *at_ns = 0;
        *ago_ns = v;
        return 0;
    }
    if (lh_time_parse(s, &v) == 0 && v > 0) {
        *at_ns = v;
        *ago_ns = 0;
        return 0;
    }
    return LH_EINVAL;
}

int
lh_timeline_period(const lh_timeline_req_t *r, int64_t now_ns, int64_t *from, int64_t *to)
{
    if (!r || !from || !to || r->since_ns < 0 || r->until_ago_ns < 0 || r->from_ns < 0 ||
        r->until_ns < 0)
        return LH_EINVAL;
    int64_t now = now_ns ? now_ns : (r->now_ns ? r->now_ns : lh_now_ns());
    *from = r->from_ns ? r->from_ns : now - r->since_ns;
    *to = r->until_ns ? r->until_ns : now - r->until_ago_ns;
    return *to < *from ? LH_EINVAL : 0;
}

/* --- entry point ---------------------------------------------------------------------------- */

static const char *const expired_kinds[] = {NULL, "deploy", "alert", "incident", "ticket"};

int
lh_query_expired_before(lh_store_t *st, lh_kind_t kind, int64_t *before_ns)
{
    *before_ns = 0;
    sqlite3 *db = lh__store_db(st);
    sqlite3_stmt *s = NULL;
    if (!db || kind < LH_KIND_DEPLOY || kind > LH_KIND_TICKET ||
        sqlite3_prepare_v2(db, LH_Q_EXPIRED, -1, &s, NULL) != SQLITE_OK)
        return LH_EINVAL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 0);
        if (key && atoi(key + strlen("expired_before.")) == (int)kind)
            *before_ns = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : LH_ESTORE;
}

/* "expired_before": {kind: time} when retention deleted events of a kind: what the document
 * cannot show any more. */
void
lh__q_doc_expired(qctx_t *q)
{
    json_t *o = NULL;
    for (int k = LH_KIND_DEPLOY; k <= LH_KIND_TICKET; k++) {
        int64_t t = 0;
        if (lh_query_expired_before(q->st, (lh_kind_t)k, &t) != 0 || !t)
            continue;
        if (!o)
            o = json_object();
        lh__q_jset(q, o, expired_kinds[k], lh__q_jtime(t));
    }
    if (o)
        lh__q_jset(q, q->doc, "expired_before", o);
}

void
lh__q_emit(qctx_t *q, void (*text)(qctx_t *))
{
    if (q->fmt == LH_QUERY_JSON) {
        lh__q_doc_dump(q);
        return;
    }
    size_t from = q->out->len;
    text(q);
    lh__q_text_expired(q);
    if (!q->err)
        q->err = lh__q_text_fit(q->out, from, LH_TEXT_WIDTH);
}

void
lh__q_doc_dump(qctx_t *q)
{
    char *s = json_dumps(q->doc, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (!s || lh_buf_append(q->out, s, strlen(s)) < 0)
        q->err = LH_ENOMEM;
    free(s);
}

/* Whether req is a complete request in a known format. */
static int
check(const lh_timeline_req_t *req, lh_query_format_t fmt)
{
    if (!req || req->limit < 0 || fmt < LH_QUERY_TEXT || fmt > LH_QUERY_PAGE)
        return LH_EINVAL;
    switch (req->mode) {
    case LH_TIMELINE_INCIDENT:
        return req->incident_id && *req->incident_id && req->window_ns >= 0 ? 0 : LH_EINVAL;
    case LH_TIMELINE_DEPLOY:
        return req->deploy_id && *req->deploy_id && req->window_ns >= 0 ? 0 : LH_EINVAL;
    case LH_TIMELINE_SERVICE:
        return req->service && *req->service && req->environment && *req->environment ? 0
                                                                                      : LH_EINVAL;
    default:
        return LH_EINVAL;
    }
}

/* Reads the store of q into its document and lists (q->err says how it went). */
static void
gather(qctx_t *q)
{
    const lh_timeline_req_t *req = q->req;
    q->now = req->now_ns ? req->now_ns : lh_now_ns();
    if (!q->db || (req->mode == LH_TIMELINE_SERVICE &&
                   lh_timeline_period(req, q->now, &q->from, &q->to) < 0)) {
        q->err = LH_EINVAL;
        return;
    }
    if (req->mode == LH_TIMELINE_INCIDENT)
        lh__q_gather_incident(q);
    else if (req->mode == LH_TIMELINE_DEPLOY)
        lh__q_gather_deploy(q);
    else
        lh__q_gather_service(q);
    if (!q->err && !q->doc)
        q->err = LH_ENOMEM;
    if (!q->err)
        lh__q_doc_expired(q);
}

static void
render(qctx_t *q)
{
    const lh_query_format_t fmt = q->fmt;
    if (fmt == LH_QUERY_HTML || fmt == LH_QUERY_PAGE)
        lh__q_html_timeline(q);
    else if (fmt == LH_QUERY_MD)
        lh__q_md_timeline(q);
    else
        lh__q_emit(q, q->req->mode == LH_TIMELINE_INCIDENT ? lh__q_text_incident
                      : q->req->mode == LH_TIMELINE_DEPLOY ? lh__q_text_deploy
                                                           : lh__q_text_service);
}

static void
release(qctx_t *q)
{
    json_decref(q->doc);
    lh__q_list_free(&q->events);
    lh__q_list_free(&q->outcomes);
    lh__q_list_free(&q->tickets);
    lh__q_list_free(&q->others);
    for (size_t i = 0; i < q->n_changes; i++)
        lh__q_list_free(&q->changes[i]);
    free(q->changes);
}

int
lh_query_timeline(lh_store_t *st, const lh_timeline_req_t *req, lh_query_format_t fmt,
                  lh_buf_t *out)
{
    return lh_query_timeline_stores(&st, 1, req, fmt, out);
}

int
lh_query_timeline_stores(lh_store_t *const *st, size_t n, const lh_timeline_req_t *req,
                         lh_query_format_t fmt, lh_buf_t *out)
{
    if (!st || !n || n > LH_QUERY_MAX_STORES || !out || check(req, fmt) < 0)
        return LH_EINVAL;
    qctx_t q[LH_QUERY_MAX_STORES];
    memset(q, 0, sizeof(q));
    for (size_t i = 0; i < n; i++) {
        if (!st[i]) {
            for (size_t k = 0; k < i; k++)
                release(&q[k]);
            return LH_EINVAL;
        }
        q[i] = (qctx_t){.st = st[i], .db = lh__store_db(st[i]), .req = req, .out = out, .fmt = fmt};
        gather(&q[i]);
    }
    int rc = n == 1 ? q[0].err : lh__q_merge_stores(q, n);
    size_t base = n == 1 ? 0 : (size_t)(rc >= 0 ? rc : 0);
    if (rc >= 0) {
        render(&q[base]);
        rc = q[base].err;
    }
    for (size_t i = 0; i < n; i++)
        release(&q[i]);
    return rc;
}
