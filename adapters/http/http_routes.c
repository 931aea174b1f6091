/*
 * http_routes.c - what each HTTP endpoint does: the routing table, the content-type rules of the
 * write endpoints, handing bodies to the hub, and the JSON answers built from its verdicts.
 *
 * Invariants: a write is answered only from the hub's verdicts (after the commit), so a 202 means
 * stored; every event of a body is accounted for in the answer (accepted, duplicates or rejected
 * with its index in the body); handlers never block.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeline.h"
#include "loophub/timeutil.h"

/* --- helpers ------------------------------------------------------------------------------ */

/* Compares the media type of a Content-Type value (before any ';' parameter) with want. */
static int
media_is(const char *ctype, const char *want)
{
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    size_t n = strcspn(ctype, ";");
    while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
        n--;
    return strlen(want) == n && strncasecmp(ctype, want, n) == 0;
}

static json_t *
jstr(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

int
lh__http_reply_acks(lh__http_req_t *r, const lh_ack_t *acks, size_t n)
{
    json_t *root = json_object();
    json_t *accepted = json_array();
    json_t *dups = json_array();
    json_t *rejected = json_array();
    json_t *ignored = json_array();
    int rc = LH_ENOMEM, auth = 0;
    if (!root || !accepted || !dups || !rejected || !ignored)
        goto out;
    for (size_t i = 0; i < n; i++) {
        switch (acks[i].status) {
        case LH_ACK_OK:
            json_array_append_new(accepted, jstr(acks[i].id));
            break;
        case LH_ACK_DUPLICATE:
            json_array_append_new(dups, jstr(acks[i].id));
            break;
        case LH_ACK_IGNORED: {
            /* a webhook source's payload that records nothing: 2xx, so the sender is content */
            json_t *o = json_pack("{s:o, s:o}", "id", jstr(acks[i].id), "reason",
                                  jstr(acks[i].why ? acks[i].why : "ignored"));
            if (!o)
                goto out;
            json_array_append_new(ignored, o);
            break;
        }
        default: {
            json_t *o = json_object();
            if (!o)
                goto out;
            json_object_set_new(o, "index", json_integer((json_int_t)i));
            json_object_set_new(o, "id", jstr(acks[i].id));
            json_object_set_new(o, "reason", jstr(acks[i].why ? acks[i].why : "rejected"));
            json_array_append_new(rejected, o);
            auth |= acks[i].err == LH_EAUTH;
            break;
        }
        }
    }
    size_t nrej = json_array_size(rejected);
    unsigned code = 202;
    if (nrej > 0) {
        char msg[512];
        size_t nacc = json_array_size(accepted), ndup = json_array_size(dups);
        if (n == 1)
            snprintf(msg, sizeof(msg), "%s", acks[0].why ? acks[0].why : "rejected");
        else if (nacc + ndup > 0)
            snprintf(msg, sizeof(msg),
                     "%zu of %zu events rejected; the other %zu were stored (%zu new, %zu "
                     "duplicates)",
                     nrej, n, nacc + ndup, nacc, ndup);
        else
            snprintf(msg, sizeof(msg), "all %zu events rejected; nothing was stored", n);
        json_object_set_new(root, "error", json_string(msg));
        json_object_set(root, "rejected", rejected);
        code = auth ? 401 : 400; /* a signature that does not match: nothing was looked at */
    }
    json_object_set(root, "accepted", accepted);
    json_object_set(root, "duplicates", dups);
    if (json_array_size(ignored))
        json_object_set(root, "ignored", ignored);
    char *text = json_dumps(root, JSON_COMPACT);
    if (!text)
        goto out;
    rc = lh__http_reply(r, code, "application/json", text, strlen(text));
    free(text);
out:
    json_decref(root);
    json_decref(accepted);
    json_decref(dups);
    json_decref(rejected);
    json_decref(ignored);
    return rc;
}

/* --- writes ------------------------------------------------------------------------------- */

static int
has_ce_headers(lh__http_req_t *r)
{
    return lh__http_header(r, "ce-specversion") != NULL;
}

static int
check_events(lh__http_t *h, lh__http_req_t *r)
{
    (void)h;
    const char *ct = lh__http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->hint = LH_FMT_AUTO;
    if (ct && (media_is(ct, "application/cloudevents+json") ||
               media_is(ct, "application/cloudevents-batch+json"))) {
        r->hint = LH_FMT_CLOUDEVENTS;
        return 0;
    }
    if (has_ce_headers(r)) /* binary mode: the body is the data, of any content type */
        return 0;          /* (the hub's codec reads the ce-* headers) */
    if (!ct || media_is(ct, "application/json"))
        return 0;
    if (media_is(ct, "application/protobuf") || media_is(ct, "application/x-protobuf")) {
        r->hint = LH_FMT_PROTOBUF;
        return 0;
    }
    char msg[256];
    snprintf(msg, sizeof(msg),
             "unsupported content type '%.80s': use application/json, "
             "application/cloudevents+json, application/cloudevents-batch+json, "
             "application/protobuf, or ce-* headers",
             ct);
    lh__http_reject(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg);
    return 1;
}

static int
check_alertmanager(lh__http_t *h, lh__http_req_t *r)
{
    (void)h;
    const char *ct = lh__http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->hint = LH_FMT_ALERTMANAGER;
    if (!ct || media_is(ct, "application/json"))
        return 0;
    char msg[160];
    snprintf(msg, sizeof(msg), "unsupported content type '%.80s': use application/json", ct);
    lh__http_reject(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg);
    return 1;
}

/* POST /v1/sources/<name>: a webhook source's payload at its own route (for proxies that drop
 * the sender's headers); the body must be JSON, as every source sends it. */
static int
check_source(lh__http_t *h, lh__http_req_t *r)
{
    (void)h;
    const char *ct = lh__http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->hint = LH_FMT_GITHUB + lh_source_by_name(r->route->source);
    if (!ct || media_is(ct, "application/json") || media_is(ct, "application/cloudevents+json"))
        return 0;
    char msg[240];
    snprintf(msg, sizeof(msg),
             "unsupported content type '%.80s': the %s source takes application/json (set the "
             "webhook's content type to JSON)",
             ct, r->route->source);
    lh__http_reject(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg);
    return 1;
}

typedef struct {
    lh_kv_t *kv;
    size_t n, cap;
} headers_t;

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    headers_t *h = cls;
    if (key && h->n < h->cap)
        h->kv[h->n++] = (lh_kv_t){key, value, value ? strlen(value) : 0};
    return MHD_YES;
}

/* Hands the body to the hub with the request's headers, as they came: the hub's codec decides
 * the format (the hint from the content type, or CloudEvents binary mode from ce-* headers). */
static int
handle_submit(lh__http_t *h, lh__http_req_t *r)
{
    h->submitted++;
    headers_t hd = {NULL, 0, 0};
    int count = MHD_get_connection_values(r->conn, MHD_HEADER_KIND, NULL, NULL);
    if (count > 0 && (hd.kv = malloc((size_t)count * sizeof(*hd.kv))) != NULL) {
        hd.cap = (size_t)count;
        MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, &hd);
    }
    int rc = LH_ENOMEM;
    if (count <= 0 || hd.kv) {
        lh_submit_t s = {.from = h->self,
                         .origin = r->origin,
                         .data = r->body.data,
                         .len = r->body.len,
                         .hint = r->hint,
                         .token = r,
                         .headers = hd.kv,
                         .n_headers = hd.n};
        r->in_hub = 1;
        rc = lh_hub_submit(h->hub, &s);
        if (rc < 0)
            r->in_hub = 0; /* the hub kept nothing: done() will not come */
    }
    free(hd.kv);
    lh_buf_free(&r->body);
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, "http", "%s: cannot submit: %s", r->origin, lh_strerror(rc));
        lh__http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "hub cannot take the request now");
        return 0;
    }
    return LH_PENDING; /* answered in done() after the commit */
}

/* --- reads -------------------------------------------------------------------------------- */

/* {"status":"ok"|"starting"|"degraded"|"stopping"[,"reasons":[...]]} from lh_hub_health(). For
 * liveness (/healthz) the code is 200 unless the hub is stopping: a degraded or starting hub is
 * alive and must not be restarted for it. For readiness (/readyz) it is 200 only when ok. */
static int
reply_health(lh__http_t *h, lh__http_req_t *r, int readiness)
{
    static const char *const names[] = {"ok", "starting", "degraded"};
    lh_health_t hl;
    lh_hub_health(h->hub, &hl);
    const char *status = h->stopping               ? "stopping"
                         : (unsigned)hl.status < 3 ? names[hl.status]
                                                   : "degraded";
    json_t *o = json_pack("{s:s}", "status", status);
    if (!o)
        return LH_ENOMEM;
    if (hl.n_reasons && !h->stopping) {
        json_t *a = json_array();
        for (int i = 0; a && i < hl.n_reasons; i++)
            json_array_append_new(a, jstr(hl.reasons[i]));
        if (a && hl.n_more) {
            char more[48];
            snprintf(more, sizeof(more), "and %d more", hl.n_more);
            json_array_append_new(a, json_string(more));
        }
        json_object_set_new(o, "reasons", a ? a : json_null());
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return LH_ENOMEM;
    unsigned code = MHD_HTTP_OK;
    if (h->stopping || (readiness && hl.status != LH_HEALTH_OK))
        code = MHD_HTTP_SERVICE_UNAVAILABLE;
    int rc = lh__http_reply(r, code, NULL, text, strlen(text));
    free(text);
    return rc;
}

/* GET /v1/sources: the webhook sources, their routes, secrets set and payload counts. */
static int
handle_sources(lh__http_t *h, lh__http_req_t *r)
{
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_hub_sources(h->hub, &b);
    if (rc == 0)
        rc = lh__http_reply(r, MHD_HTTP_OK, "application/json", b.data, b.len);
    lh_buf_free(&b);
    return rc;
}

static int
handle_sinks(lh__http_t *h, lh__http_req_t *r)
{
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_hub_sinks(h->hub, &b);
    if (rc == 0)
        rc = lh__http_reply(r, MHD_HTTP_OK, "application/json", b.data, b.len);
    lh_buf_free(&b);
    return rc;
}

static int
handle_healthz(lh__http_t *h, lh__http_req_t *r)
{
    return reply_health(h, r, 0);
}

static int
handle_readyz(lh__http_t *h, lh__http_req_t *r)
{
    return reply_health(h, r, 1);
}

static int
handle_metrics(lh__http_t *h, lh__http_req_t *r)
{
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_hub_metrics(h->hub, &b);
    if (rc == 0)
        rc = lh__http_reply(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                            b.data ? (const void *)b.data : "", b.len);
    lh_buf_free(&b);
    return rc;
}

/* GET /v1/timeline?incident=ID | deploy=ID | service=S&env=E[&since=WHEN][&until=WHEN]
 * [&limit=N] (WHEN: a duration back from now or an RFC 3339 time): the same
 * JSON document as `loophub timeline --format json`, read from the hub's own store between
 * batches (the reactor is single-threaded, so a query never sees half a batch). */
static const char *
query_arg(lh__http_req_t *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

/* The timeline request of r's arguments (incident=, deploy=, service= with env=, since=,
 * until=, limit=; the pages' /incident and /change name the subject id=, and GET / takes only
 * service=). NULL when sound, else why it is not. */
static const char *
timeline_args(lh__http_req_t *r, lh_timeline_req_t *req, lh_timeline_mode_t page_mode)
{
    lh_timeline_req_default(req);
    const char *id = page_mode ? query_arg(r, "id") : NULL;
    req->incident_id = page_mode == LH_TIMELINE_INCIDENT ? id : query_arg(r, "incident");
    req->deploy_id = page_mode == LH_TIMELINE_DEPLOY ? id : query_arg(r, "deploy");
    req->service = page_mode == LH_TIMELINE_SERVICE || !page_mode ? query_arg(r, "service") : NULL;
    req->environment = query_arg(r, "env") ? query_arg(r, "env") : query_arg(r, "environment");
    const char *since = query_arg(r, "since"), *until = query_arg(r, "until");
    const char *limit = query_arg(r, "limit");
    int selectors = !!req->incident_id + !!req->deploy_id + !!req->service;
    if (page_mode && page_mode != LH_TIMELINE_SERVICE && !id)
        return "give id=";
    if (selectors != 1)
        return "give exactly one of incident=ID, deploy=ID or service=S (with env=E)";
    if (req->service && !req->environment)
        return "service= needs env=";
    if (req->incident_id && req->environment)
        return "env= goes with service= or deploy=";
    req->mode = req->incident_id ? LH_TIMELINE_INCIDENT
                                 : (req->deploy_id ? LH_TIMELINE_DEPLOY : LH_TIMELINE_SERVICE);
    if ((since || until) && !req->service)
        return "since= and until= go with service=";
    if (since && (lh_timeline_moment_parse(since, &req->from_ns, &req->since_ns) < 0 ||
                  (!req->from_ns && req->since_ns <= 0)))
        return "since= is not a duration (like 90s, 30m, 2h, 7d) or an RFC 3339 time";
    if (until && lh_timeline_moment_parse(until, &req->until_ns, &req->until_ago_ns) < 0)
        return "until= is not a duration (like 90s, 30m, 2h, 7d) or an RFC 3339 time";
    int64_t from = 0, to = 0;
    if (req->service && lh_timeline_period(req, 0, &from, &to) < 0)
        return "until= is before since=";
    if (limit) {
        char *end;
        req->limit = strtoll(limit, &end, 10);
        if (*end || req->limit < 1)
            return "limit= is not a positive number";
    }
    return NULL;
}

/* Runs a timeline request and answers it as JSON (the /v1 route) or as the web page. */
static int
answer_timeline(lh__http_t *h, lh__http_req_t *r, const lh_timeline_req_t *req,
                lh_query_format_t fmt)
{
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_hub_timeline(h->hub, req, fmt, &b);
    if (rc == 0)
        rc = lh__http_reply(r, MHD_HTTP_OK,
                            fmt == LH_QUERY_PAGE ? "text/html; charset=utf-8" : "application/json",
                            b.data ? (const void *)b.data : "", b.len);
    else if (rc == LH_ENOTFOUND)
        rc = lh__http_reply_error(r, MHD_HTTP_NOT_FOUND,
                                  req->incident_id
                                      ? "no such incident, outcome event or correlated alert"
                                      : "no such deploy");
    else if (rc == LH_EAMBIGUOUS)
        rc = lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST,
                                  "deploy= ran in more than one environment: add env=");
    else if (rc == LH_EINVAL)
        rc = lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST, "incomplete timeline request");
    else
        rc = lh__http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, lh_strerror(rc));
    lh_buf_free(&b);
    return rc;
}

static int
handle_timeline(lh__http_t *h, lh__http_req_t *r)
{
    lh_timeline_req_t req;
    const char *bad = timeline_args(r, &req, LH_TIMELINE_NONE);
    return bad ? lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST, bad)
               : answer_timeline(h, r, &req, LH_QUERY_JSON);
}

/* GET /v1/deployed?[service=S][&env=E][&host=H][&at=WHEN] and
 * GET /v1/audit?[service=S][&env=E][&actor=A][&since=WHEN][&until=WHEN][&unapproved=1][&limit=N]
 * and GET /v1/dora?[since=WHEN][&until=WHEN][&service=S][&env=E][&by=K][&every=P][&min_severity=S]:
 * the same JSON documents as `loophub deployed|audit --format json`; every argument goes
 * through lh_report_req_set(), the parser the command line uses, so a word means the same on
 * both (an argument the report does not take is an error, as an unknown option is). */
typedef struct {
    lh_report_req_t *req;
    char err[200];
    int bad;
} report_args_t;

static enum MHD_Result
report_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    report_args_t *a = cls;
    /* a form sends its empty fields: an empty value is no filter (a bare "unapproved" is on) */
    if (value && !*value && strcmp(key, "unapproved"))
        return MHD_YES;
    if (lh_report_req_set(a->req, key, value, a->err, sizeof(a->err)) < 0) {
        a->bad = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

/* A report as JSON (fmt LH_QUERY_JSON, the /v1 route) or as the web page (LH_QUERY_PAGE), from
 * the same arguments. */
static int
serve_report(lh__http_t *h, lh__http_req_t *r, lh_report_kind_t kind, lh_query_format_t fmt)
{
    lh_report_req_t req;
    lh_report_req_default(&req, kind);
    report_args_t a = {.req = &req};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, report_arg, &a);
    if (a.bad)
        return lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST, a.err);
    if (fmt == LH_QUERY_PAGE && kind == LH_REPORT_DORA && !query_arg(r, "every"))
        req.every = LH_REPORT_EVERY_WEEK; /* the page draws the trend */
    int64_t from = 0, to = 0;
    if (lh_report_period(&req, 0, &from, &to) < 0)
        return lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST, "until= is before since=");
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_hub_report(h->hub, &req, fmt, &b);
    if (rc == 0)
        rc = lh__http_reply(r, MHD_HTTP_OK,
                            fmt == LH_QUERY_PAGE ? "text/html; charset=utf-8" : "application/json",
                            b.data ? (const void *)b.data : "", b.len);
    else if (rc == LH_EINVAL)
        rc = lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST, "bad report request");
    else
        rc = lh__http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, lh_strerror(rc));
    lh_buf_free(&b);
    return rc;
}

static int
handle_deployed(lh__http_t *h, lh__http_req_t *r)
{
    return serve_report(h, r, LH_REPORT_DEPLOYED, LH_QUERY_JSON);
}

static int
handle_audit(lh__http_t *h, lh__http_req_t *r)
{
    return serve_report(h, r, LH_REPORT_AUDIT, LH_QUERY_JSON);
}

static int
handle_dora(lh__http_t *h, lh__http_req_t *r)
{
    return serve_report(h, r, LH_REPORT_DORA, LH_QUERY_JSON);
}

/* --- the web page (GET /, /incident, /change, /audit, /deployed, /dora) ----------------------
 * Server-rendered HTML with inline SVG and no script, drawn by the query module from the same
 * documents the /v1 routes serve (each page links its JSON). The arguments are the /v1 routes'
 * own: the same parser, the same errors. */

static int
page_deployed(lh__http_t *h, lh__http_req_t *r)
{
    return serve_report(h, r, LH_REPORT_DEPLOYED, LH_QUERY_PAGE);
}

static int
page_audit(lh__http_t *h, lh__http_req_t *r)
{
    return serve_report(h, r, LH_REPORT_AUDIT, LH_QUERY_PAGE);
}

static int
page_dora(lh__http_t *h, lh__http_req_t *r)
{
    return serve_report(h, r, LH_REPORT_DORA, LH_QUERY_PAGE);
}

/* GET /?service=S&env=E[&since=WHEN][&until=WHEN]: the timeline of a service drawn; without a
 * service, the services and what runs where, each a link to its timeline. */
static int
page_home(lh__http_t *h, lh__http_req_t *r)
{
    if (!query_arg(r, "service"))
        return page_deployed(h, r);
    lh_timeline_req_t req;
    const char *bad = timeline_args(r, &req, LH_TIMELINE_SERVICE);
    return bad ? lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST, bad)
               : answer_timeline(h, r, &req, LH_QUERY_PAGE);
}

/* GET /incident?id=ID (any id the timeline's --incident takes) and GET /change?id=DEPLOY_ID */
static int
page_one(lh__http_t *h, lh__http_req_t *r, lh_timeline_mode_t mode)
{
    lh_timeline_req_t req;
    const char *bad = timeline_args(r, &req, mode);
    return bad ? lh__http_reply_error(r, MHD_HTTP_BAD_REQUEST, bad)
               : answer_timeline(h, r, &req, LH_QUERY_PAGE);
}

static int
page_incident(lh__http_t *h, lh__http_req_t *r)
{
    return page_one(h, r, LH_TIMELINE_INCIDENT);
}

static int
page_change(lh__http_t *h, lh__http_req_t *r)
{
    return page_one(h, r, LH_TIMELINE_DEPLOY);
}

const lh__http_route_t lh__http_routes[] = {
    {"POST", "/v1/events", 1, check_events, handle_submit, 0, NULL},
    {"POST", "/v1/alertmanager", 1, check_alertmanager, handle_submit, 0, NULL},
    {"POST", "/v1/sources/github", 1, check_source, handle_submit, 0, "github"},
    {"POST", "/v1/sources/gitlab", 1, check_source, handle_submit, 0, "gitlab"},
    {"POST", "/v1/sources/grafana", 1, check_source, handle_submit, 0, "grafana"},
    {"POST", "/v1/sources/pagerduty", 1, check_source, handle_submit, 0, "pagerduty"},
    {"POST", "/v1/sources/jira", 1, check_source, handle_submit, 0, "jira"},
    {"POST", "/v1/sources/flux", 1, check_source, handle_submit, 0, "flux"},
    {"POST", "/v1/sources/tekton", 1, check_source, handle_submit, 0, "tekton"},
    {"GET", "/v1/sources", 0, NULL, handle_sources, 0, NULL},
    {"GET", "/v1/sinks", 0, NULL, handle_sinks, 0, NULL},
    {"GET", "/healthz", 0, NULL, handle_healthz, 1, NULL},
    {"GET", "/readyz", 0, NULL, handle_readyz, 1, NULL},
    {"GET", "/metrics", 0, NULL, handle_metrics, 0, NULL},
    {"GET", "/v1/timeline", 0, NULL, handle_timeline, 0, NULL},
    {"GET", "/v1/deployed", 0, NULL, handle_deployed, 0, NULL},
    {"GET", "/v1/audit", 0, NULL, handle_audit, 0, NULL},
    {"GET", "/v1/dora", 0, NULL, handle_dora, 0, NULL},
    {"GET", "/", 0, NULL, page_home, 0, NULL},
    {"GET", "/incident", 0, NULL, page_incident, 0, NULL},
    {"GET", "/change", 0, NULL, page_change, 0, NULL},
    {"GET", "/audit", 0, NULL, page_audit, 0, NULL},
    {"GET", "/deployed", 0, NULL, page_deployed, 0, NULL},
    {"GET", "/dora", 0, NULL, page_dora, 0, NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL},
};
