/*
 * query_report.c - the reports over the timeline store (loophub/report.h): one parser of their
 * parameters for the command line and the HTTP API, and the entry point that runs one into a
 * JSON document or text (query_deployed.c, query_audit.c and query_dora.c gather them;
 * query_html.c draws them as pages).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/timeline.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "query_internal.h"
#include "query_sql.h"

void
lh_report_req_default(lh_report_req_t *r, lh_report_kind_t kind)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->since_ns = (kind == LH_REPORT_DORA ? 30 : 7) * 24 * 3600 * LH_NS_PER_SEC;
    r->limit = 200;
    r->min_severity = LH_SEV_ERROR;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LH_EINVAL;
}

/* The parameters each report takes. */
static int
takes(lh_report_kind_t k, const char *name)
{
    static const char *const deployed[] = {"service", "env", "environment", "host", "at", NULL};
    static const char *const audit[] = {"service", "env",        "environment", "actor", "since",
                                        "until",   "unapproved", "limit",       NULL};
    static const char *const dora[] = {"service", "env",   "environment",  "since", "until",
                                       "by",      "every", "min_severity", NULL};
    const char *const *l = k == LH_REPORT_DEPLOYED ? deployed
                           : k == LH_REPORT_AUDIT  ? audit
                           : k == LH_REPORT_DORA   ? dora
                                                   : NULL;
    for (; l && *l; l++)
        if (!strcmp(*l, name))
            return 1;
    return 0;
}

static const char *
kind_name(lh_report_kind_t k)
{
    return k == LH_REPORT_DEPLOYED ? "deployed"
           : k == LH_REPORT_AUDIT  ? "audit"
           : k == LH_REPORT_DORA   ? "dora"
                                   : "?";
}

int
lh_report_req_set(lh_report_req_t *r, const char *name, const char *value, char *err, size_t errlen)
{
    if (!r || !name)
        return fail(err, errlen, "no parameter");
    if (!takes(r->kind, name))
        return fail(err, errlen, "%s: not a parameter of %s", name, kind_name(r->kind));
    if (!strcmp(name, "unapproved")) {
        if (!value || !*value || !strcmp(value, "1") || !strcmp(value, "true") ||
            !strcmp(value, "yes"))
            r->unapproved = 1;
        else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no"))
            r->unapproved = 0;
        else
            return fail(err, errlen, "%s: on or off (1, true, yes; 0, false, no), not '%s'", name,
                        value);
        return 0;
    }
    if (!value || !*value)
        return fail(err, errlen, "%s: empty", name);
    if (!strcmp(name, "service")) {
        r->service = value;
    } else if (!strcmp(name, "env") || !strcmp(name, "environment")) {
        r->environment = value;
    } else if (!strcmp(name, "host")) {
        r->host = value;
    } else if (!strcmp(name, "actor")) {
        r->actor = value;
    } else if (!strcmp(name, "by")) {
        if (strcmp(value, "service") && strcmp(value, "service+env") &&
            (strncmp(value, "label:", 6) || !value[6]))
            return fail(err, errlen, "%s: '%s' is not service, service+env or label:NAME", name,
                        value);
        r->by = value;
    } else if (!strcmp(name, "every")) {
        if (!strcmp(value, "day"))
            r->every = LH_REPORT_EVERY_DAY;
        else if (!strcmp(value, "week"))
            r->every = LH_REPORT_EVERY_WEEK;
        else
            return fail(err, errlen, "%s: '%s' is neither day nor week", name, value);
    } else if (!strcmp(name, "min_severity")) {
        lh_severity_t sev;
        if (lh_severity_parse(value, &sev) < 0 || sev == LH_SEV_UNSPECIFIED)
            return fail(err, errlen, "%s: '%s' is not info, warning, error or critical", name,
                        value);
        r->min_severity = (int)sev;
    } else if (!strcmp(name, "limit")) {
        char *end = NULL;
        long long v = strtoll(value, &end, 10);
        if (*end || end == value || v < 0)
            return fail(err, errlen, "%s: '%s' is not a number of changes (0 for all)", name,
                        value);
        r->limit = v;
    } else {
        int64_t at = 0, ago = 0;
        if (lh_timeline_moment_parse(value, &at, &ago) < 0 || (!at && ago < 0))
            return fail(err, errlen,
                        "%s: '%s' is neither a duration back from now (90s, 30m, 2h, 7d) nor an "
                        "RFC 3339 time (2026-11-30T10:00:00Z)",
                        name, value);
        if (!strcmp(name, "at")) {
            r->at_ns = at;
            r->at_ago_ns = ago;
        } else if (!strcmp(name, "since")) {
            r->from_ns = at;
            r->since_ns = ago;
        } else {
            r->until_ns = at;
            r->until_ago_ns = ago;
        }
    }
    return 0;
}

int
lh_report_period(const lh_report_req_t *r, int64_t now_ns, int64_t *from, int64_t *to)
{
    if (!r || !from || !to || r->since_ns < 0 || r->until_ago_ns < 0 || r->at_ago_ns < 0 ||
        r->from_ns < 0 || r->until_ns < 0 || r->at_ns < 0)
        return LH_EINVAL;
    int64_t now = now_ns ? now_ns : (r->now_ns ? r->now_ns : lh_now_ns());
    if (r->kind == LH_REPORT_DEPLOYED) {
        *from = *to = r->at_ns ? r->at_ns : now - r->at_ago_ns;
        return 0;
    }
    *from = r->from_ns ? r->from_ns : now - r->since_ns;
    *to = r->until_ns ? r->until_ns : now - r->until_ago_ns;
    return *to < *from ? LH_EINVAL : 0;
}

/* Gathers the report's document into q->doc (q->err on an error). */
static void
gather(qctx_t *q)
{
    const lh_report_req_t *req = q->rreq;
    q->now = req->now_ns ? req->now_ns : lh_now_ns();
    if (!q->db || lh_report_period(req, q->now, &q->from, &q->to) < 0) {
        q->err = LH_EINVAL;
        return;
    }
    if (req->kind == LH_REPORT_DEPLOYED)
        lh__q_gather_deployed(q);
    else if (req->kind == LH_REPORT_AUDIT)
        lh__q_gather_audit(q);
    else
        lh__q_gather_dora(q);
    if (!q->err && !q->doc)
        q->err = LH_ENOMEM;
    if (!q->err)
        lh__q_doc_expired(q);
}

static int
valid(const lh_store_t *st, const lh_report_req_t *req)
{
    return st && req && req->limit >= 0 &&
           (req->kind == LH_REPORT_DEPLOYED || req->kind == LH_REPORT_AUDIT ||
            req->kind == LH_REPORT_DORA);
}

int
lh_query_report(lh_store_t *st, const lh_report_req_t *req, lh_query_format_t fmt, lh_buf_t *out)
{
    if (!valid(st, req) || !out || fmt < LH_QUERY_TEXT || fmt > LH_QUERY_PAGE)
        return LH_EINVAL;
    qctx_t q = {.st = st, .db = lh__store_db(st), .rreq = req, .out = out};
    gather(&q);
    q.fmt = fmt;
    if (!q.err && fmt != LH_QUERY_TEXT && fmt != LH_QUERY_JSON)
        lh__q_html_report(&q); /* md (the text, fenced), html and the page */
    else if (!q.err)
        lh__q_emit(&q, req->kind == LH_REPORT_DEPLOYED ? lh__q_text_deployed
                       : req->kind == LH_REPORT_AUDIT  ? lh__q_text_audit
                                                       : lh__q_text_dora);
    json_decref(q.doc);
    return q.err;
}

/* A dora report's groups handed to fn, of the environments envs only (n_envs 0: of all). */
static int
groups_of(lh_store_t *st, const lh_report_req_t *req, char *const *envs, size_t n_envs,
          lh_report_group_fn fn, void *arg)
{
    qctx_t q = {.st = st,
                .db = lh__store_db(st),
                .rreq = req,
                .fmt = LH_QUERY_JSON,
                .on_group = fn,
                .on_group_arg = arg,
                .envs = envs,
                .n_envs = n_envs};
    gather(&q);
    json_decref(q.doc);
    return q.err;
}

int
lh__query_report_groups(lh_store_t *st, const lh_report_req_t *req, lh_report_group_fn fn,
                        void *arg)
{
    if (!valid(st, req) || req->kind != LH_REPORT_DORA || !fn)
        return LH_EINVAL;
    return groups_of(st, req, NULL, 0, fn, arg);
}

int
lh__q_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The environments of the period's changes and incidents into *envs, for
 * lh__query_report_groups_by_env(): sorted, each once, "" for none (the key 'n' and the empty
 * environment 'e' are one). */
static void
dora_envs(qctx_t *q, int64_t from, int64_t to, char ***envs, size_t *n)
{
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_DORA_ENVS);
    size_t cap = 0;
    *envs = NULL;
    *n = 0;
    if (s) {
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, to);
    }
    while (s && !q->err && lh__q_step(q, s)) {
        const char *k = lh__q_col_text(s, 0);
        if (*n == cap) {
            char **v = realloc(*envs, (cap * 2 + 4) * sizeof(*v));
            if (!v) {
                q->err = LH_ENOMEM;
                break;
            }
            *envs = v;
            cap = cap * 2 + 4;
        }
        if (!((*envs)[*n] = strdup(k && k[0] == 'e' ? k + 1 : ""))) {
            q->err = LH_ENOMEM;
            break;
        }
        (*n)++;
    }
    sqlite3_finalize(s);
    if (*n)
        qsort(*envs, *n, sizeof(**envs), lh__q_cmp_str);
    size_t u = 0; /* "" may have come as both keys */
    for (size_t i = 0; i < *n; i++) {
        if (u && !strcmp((*envs)[u - 1], (*envs)[i]))
            free((*envs)[i]);
        else
            (*envs)[u++] = (*envs)[i];
    }
    *n = u;
}

int
lh__query_report_groups_by_env(lh_store_t *st, const lh_report_req_t *req, lh_report_group_fn fn,
                               void *arg)
{
    if (!valid(st, req) || req->kind != LH_REPORT_DORA || !fn || !req->by ||
        strcmp(req->by, "service+env") || req->service || req->environment)
        return LH_EINVAL;
    lh_report_req_t r = *req;
    if (!r.now_ns)
        r.now_ns = lh_now_ns(); /* one moment for every pass */
    qctx_t q = {.st = st, .db = lh__store_db(st), .rreq = &r, .fmt = LH_QUERY_JSON};
    int64_t from, to;
    if (!q.db || lh_report_period(&r, r.now_ns, &from, &to) < 0)
        return LH_EINVAL;
    char **envs = NULL;
    size_t n = 0;
    dora_envs(&q, from, to, &envs, &n);
    size_t passes = n < LH_DORA_ENV_PASSES ? n : LH_DORA_ENV_PASSES;
    char **mine = q.err ? NULL : malloc((n + 1) * sizeof(*mine));
    if (!q.err && !mine)
        q.err = LH_ENOMEM;
    /* pass p: every passes-th environment from the p-th (a sorted subset of a sorted list);
     * none at all: one pass of everything, which finds no group either */
    for (size_t p = 0; !q.err && p < (passes ? passes : 1); p++) {
        size_t m = 0;
        for (size_t i = p; i < n; i += passes)
            mine[m++] = envs[i];
        q.err = groups_of(st, &r, mine, m, fn, arg);
    }
    free(mine);
    for (size_t i = 0; i < n; i++)
        free(envs[i]);
    free(envs);
    return q.err;
}
