/*
 * query_html.c - the query documents as pages people would rather look at than read: one HTML
 * page each, server-rendered, with inline CSS and inline SVG, and no script (hover shows an
 * SVG <title>, click follows a link). LH_QUERY_HTML is a standalone file (`--format html`);
 * LH_QUERY_PAGE is the hub's web page (GET /, /incident, /change, /audit, /deployed, /dora):
 * the same body with the navigation, the filter forms and a link to the JSON document it was
 * drawn from. Also the timeline as Markdown, for a postmortem document.
 *
 * Everything is drawn from the JSON document the query built (the one --format json prints),
 * so a page can never show what the API does not say. Every string from an event is escaped.
 * Elements a browser test looks for carry classes: change-marker (data-deploy, data-class),
 * outcome-span (incident or alert), suspect-link (data-deploy), trend-plot (data-figure).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "query_internal.h"

#define P lh__q_tprintf

/* --- writing -------------------------------------------------------------------------------- */

static void md(qctx_t *q, const char *s);

/* s with &, <, >, " and ' escaped; control characters dropped. */
static void
hs(qctx_t *q, const char *s)
{
    if (!s) {
        P(q, "-");
        return;
    }
    for (; *s && !q->err; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            P(q, "&amp;");
            break;
        case '<':
            P(q, "&lt;");
            break;
        case '>':
            P(q, "&gt;");
            break;
        case '"':
            P(q, "&quot;");
            break;
        case '\'':
            P(q, "&#39;");
            break;
        default:
            if (c >= 0x20 && c != 0x7f)
                P(q, "%c", c);
        }
    }
}

/* A query string: "?k=v&k=v", values percent-encoded (NULL values skipped). */
typedef struct {
    char b[1024];
    size_t n;
} qs_t;

static void
qs_add(qs_t *u, const char *k, const char *v)
{
    if (!v || !*v || u->n + 8 > sizeof(u->b))
        return;
    u->n += (size_t)snprintf(u->b + u->n, sizeof(u->b) - u->n, "%c%s=", u->n ? '&' : '?', k);
    for (const unsigned char *p = (const unsigned char *)v; *p && u->n + 4 < sizeof(u->b); p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~:", *p);
        u->n += (size_t)(plain ? snprintf(u->b + u->n, sizeof(u->b) - u->n, "%c", *p)
                               : snprintf(u->b + u->n, sizeof(u->b) - u->n, "%%%02X", *p));
    }
}

static int64_t
tparse(const char *s)
{
    int64_t t = 0;
    return s && lh_time_parse(s, &t) == 0 ? t : 0;
}

/* "2026-11-30 10:05" of an RFC 3339 time (the seconds and zone left out; all times are UTC). */
static void
hshort(qctx_t *q, const char *t)
{
    if (!t) {
        P(q, "-");
        return;
    }
    char b[32];
    snprintf(b, sizeof(b), "%.10s %.5s", t, strlen(t) > 11 ? t + 11 : "");
    hs(q, b);
}

static void
hdur(qctx_t *q, int64_t seconds)
{
    char b[40];
    lh_duration_human(seconds * LH_NS_PER_SEC, b, sizeof(b));
    hs(q, b);
}

static int
page(const qctx_t *q)
{
    return q->fmt == LH_QUERY_PAGE;
}

static const char css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "color:#1d2330;background:#f6f7f9}"
    "header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:24px;"
    "align-items:center}"
    "header a{color:#cfd8ff;text-decoration:none}header b{font-size:17px}"
    "main{max-width:1180px;margin:0 auto;padding:16px 24px}"
    "h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:22px 0 8px}"
    ".sub{color:#5b6475;margin-bottom:12px}"
    "table{border-collapse:collapse;background:#fff;width:100%;margin:6px 0 14px}"
    "th,td{border-bottom:1px solid #e3e6eb;padding:5px 8px;text-align:left;vertical-align:top;"
    "font-size:14px}th{background:#eef0f4}"
    "form{background:#fff;padding:10px;border:1px solid #e3e6eb;display:flex;gap:12px;"
    "flex-wrap:wrap;align-items:end}"
    "label{font-size:12px;color:#5b6475;display:flex;flex-direction:column}"
    "input,select{font:inherit;padding:3px 6px}"
    ".card{background:#fff;border:1px solid #e3e6eb;padding:10px 14px;margin:8px 0}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:10px}"
    ".big{font-size:24px;font-weight:600}.band{font-size:12px;padding:1px 7px;"
    "border-radius:8px;background:#e3e6eb}"
    ".elite{background:#c8f1d2}.high{background:#dcefc0}.medium{background:#fbe7b5}"
    ".low{background:#f8c9c4}"
    ".failed,.rejected{color:#c0392b}.rolled_back{color:#d35400}.suspect{color:#7d3c98}"
    ".approved{color:#1e8449}.muted{color:#8a93a3}"
    "svg{background:#fff;border:1px solid #e3e6eb}svg text{font:11px system-ui,sans-serif}"
    "a{color:#2453c7}footer{color:#8a93a3;font-size:12px;margin:24px 0}";

/* The page head; for the hub's page, the navigation too. */
static void
begin(qctx_t *q, const char *title)
{
    P(q, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    hs(q, title);
    P(q, " - loophub</title><style>%s</style></head><body>\n", css);
    if (page(q))
        P(q, "<header><b>loophub</b><a href=\"/\">Timeline</a><a href=\"/audit\">Audit</a>"
             "<a href=\"/deployed\">Deployed</a><a href=\"/dora\">DORA</a></header>\n");
    P(q, "<main>\n");
}

/* The footer: the JSON document this page was drawn from (the hub's page links it). */
static void
end(qctx_t *q, const char *api, const qs_t *args)
{
    P(q, "<footer>");
    if (page(q)) {
        P(q, "This page as JSON: <a class=\"json-link\" href=\"%s", api);
        hs(q, args ? args->b : "");
        P(q, "\">%s", api);
        hs(q, args ? args->b : "");
        P(q, "</a>. ");
    }
    P(q, "Drawn by loophub");
    const char *store = q->req ? q->req->store_name : q->rreq ? q->rreq->store_name : NULL;
    if (store) {
        P(q, " from ");
        hs(q, store);
    }
    P(q, "; times are UTC.</footer>\n</main></body></html>\n");
}

/* --- the timeline drawing ------------------------------------------------------------------- */

#define W 1100
#define LEFT 96
#define RIGHT 16
#define MAX_MARKS 4000

typedef struct {
    const char *id; /* deploy id, incident id, alert fingerprint or name */
    const char *label, *cls, *first_event;
    int64_t t0, t1; /* t1 0: open (drawn to the end) */
    int row;
} mark_t;

typedef struct {
    mark_t *m;
    size_t n, cap;
} marks_t;

static mark_t *
mark_get(qctx_t *q, marks_t *ms, const char *id)
{
    for (size_t i = ms->n; i-- > 0;)
        if (!strcmp(ms->m[i].id, id))
            return &ms->m[i];
    if (ms->n == MAX_MARKS)
        return NULL;
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 32;
        mark_t *v = realloc(ms->m, cap * sizeof(*v));
        if (!v) {
            q->err = LH_ENOMEM;
            return NULL;
        }
        ms->m = v;
        ms->cap = cap;
    }
    mark_t *m = &ms->m[ms->n++];
    memset(m, 0, sizeof(*m));
    m->id = id;
    return m;
}

typedef struct {
    int64_t from, to;
} axis_t;

static double
xof(const axis_t *a, int64_t t)
{
    if (t < a->from)
        t = a->from;
    if (t > a->to)
        t = a->to;
    double span = a->to > a->from ? (double)(a->to - a->from) : 1.0;
    return LEFT + (double)(t - a->from) * (double)(W - LEFT - RIGHT) / span;
}

/* The changes, incidents and alert periods of a list of events (loophub JSON, time order). */
static void
marks_of(qctx_t *q, const json_t *events, marks_t *chg, marks_t *inc, marks_t *alr)
{
    for (size_t i = 0; i < json_array_size(events) && !q->err; i++) {
        const json_t *e = json_array_get(events, i);
        const char *kind = lh__q_js(e, "kind"), *eid = lh__q_js(e, "id");
        int64_t t = tparse(lh__q_js(e, "time"));
        if (!kind)
            continue;
        if (!strcmp(kind, "deploy")) {
            const json_t *d = json_object_get(e, "deploy");
            const char *did = lh__q_js(d, "deploy_id"), *st = lh__q_js(d, "status");
            mark_t *m = did ? mark_get(q, chg, did) : NULL;
            if (!m)
                continue;
            if (!m->t0) {
                m->t0 = t;
                m->first_event = eid;
                m->cls = "pending";
            }
            if (lh__q_js(d, "version"))
                m->label = lh__q_js(d, "version");
            if (st && !strcmp(st, "failed"))
                m->cls = "failed";
            else if (st && !strcmp(st, "rolled_back"))
                m->cls = "rolled_back";
            else if (st && !strcmp(st, "succeeded") && !strcmp(m->cls, "pending"))
                m->cls = "healthy";
        } else if (!strcmp(kind, "incident")) {
            const json_t *d = json_object_get(e, "incident");
            const char *iid = lh__q_js(d, "incident_id"), *st = lh__q_js(d, "state");
            mark_t *m = iid ? mark_get(q, inc, iid) : NULL;
            if (!m)
                continue;
            if (!m->t0) {
                m->t0 = t;
                m->first_event = eid;
            }
            if (lh__q_js(d, "title"))
                m->label = lh__q_js(d, "title");
            m->cls = lh__q_js(d, "severity");
            if (st && !strcmp(st, "resolved"))
                m->t1 = t;
        } else if (!strcmp(kind, "alert")) {
            const json_t *d = json_object_get(e, "alert");
            const char *key =
                lh__q_js(d, "fingerprint") ? lh__q_js(d, "fingerprint") : lh__q_js(d, "name");
            const char *st = lh__q_js(d, "state");
            if (!key)
                continue;
            /* a firing opens a period unless one of the key is open */
            mark_t *m = NULL;
            for (size_t k = alr->n; k-- > 0 && !m;)
                if (!strcmp(alr->m[k].id, key))
                    m = &alr->m[k];
            int firing = !st || strcmp(st, "resolved");
            if (firing && (!m || m->t1)) {
                if (alr->n == MAX_MARKS)
                    continue;
                m = mark_get(q, alr, "\x01"); /* a new period: never matches an id */
                if (!m)
                    continue;
                m->id = key;
                m->t0 = t;
                m->first_event = eid;
                m->label = lh__q_js(d, "name");
                m->cls = lh__q_js(d, "severity");
            } else if (!firing && m && !m->t1) {
                m->t1 = t;
            }
        }
    }
}

/* Stacks the spans of ms into rows so that none overlaps (at most 4; more share the last). */
static int
stack(marks_t *ms, const axis_t *a)
{
    double end[4] = {0, 0, 0, 0};
    int rows = 1;
    for (size_t i = 0; i < ms->n; i++) {
        double x0 = xof(a, ms->m[i].t0), x1 = xof(a, ms->m[i].t1 ? ms->m[i].t1 : a->to);
        int r = 0;
        while (r < 3 && end[r] > x0 - 2)
            r++;
        ms->m[i].row = r;
        end[r] = x1 + 40;
        if (r + 1 > rows)
            rows = r + 1;
    }
    return rows;
}

static const mark_t *
find(const marks_t *ms, const char *id)
{
    for (size_t i = 0; id && i < ms->n; i++)
        if (!strcmp(ms->m[i].id, id) || (ms->m[i].first_event && !strcmp(ms->m[i].first_event, id)))
            return &ms->m[i];
    return NULL;
}

/* A time axis with ticks: date and hour when the range is under two days, else dates. */
static void
draw_axis(qctx_t *q, const axis_t *a, int y)
{
    P(q, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#8a93a3\"/>", LEFT, y, W - RIGHT,
      y);
    for (int k = 0; k <= 6; k++) {
        int64_t t = a->from + (a->to - a->from) / 6 * k;
        char b[40];
        lh_time_format(t, b, sizeof(b));
        double x = xof(a, t);
        P(q, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#8a93a3\"/>", x, y, x,
          y + 4);
        P(q, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" fill=\"#5b6475\">%.10s %.5s</text>", x,
          y + 16,
          k == 0   ? "start"
          : k == 6 ? "end"
                   : "middle",
          b, b + 11);
    }
}

static const char *
change_colour(const char *cls)
{
    if (!cls)
        return "#8a93a3";
    if (!strcmp(cls, "failed"))
        return "#c0392b";
    if (!strcmp(cls, "rolled_back"))
        return "#e67e22";
    if (!strcmp(cls, "suspect"))
        return "#7d3c98";
    if (!strcmp(cls, "healthy"))
        return "#27ae60";
    return "#8a93a3";
}

/* Draws changes as markers (colour by outcome class), incidents and alert periods as spans,
 * and a line from each outcome of the correlated alerts to each of its suspects. alerts: the
 * document's correlated alerts ({outcome_id, outcome_time, id, suspects: [{deploy_id, rank}]}),
 * or NULL; a NULL href_incident: no links. */
static void
draw_timeline(qctx_t *q, const json_t *events, const json_t *alerts, axis_t a, const char *env)
{
    marks_t chg = {0}, inc = {0}, alr = {0};
    marks_of(q, events, &chg, &inc, &alr);
    /* the top suspects of the alerts are suspect changes (a failed one stays failed) */
    for (size_t i = 0; i < json_array_size(alerts); i++) {
        const json_t *sus = json_object_get(json_array_get(alerts, i), "suspects");
        for (size_t k = 0; k < json_array_size(sus); k++) {
            const json_t *s = json_array_get(sus, k);
            mark_t *m = (mark_t *)find(&chg, lh__q_js(s, "deploy_id"));
            if (m && lh__q_ji(s, "rank") == 1 && strcmp(m->cls, "failed") &&
                strcmp(m->cls, "rolled_back"))
                m->cls = "suspect";
        }
    }
    int ri = stack(&inc, &a), ra = stack(&alr, &a);
    const int yc = 44, yi0 = 96, yr = 18, ya0 = yi0 + ri * yr + 34;
    const int h = ya0 + ra * yr + 44;
    P(q,
      "<svg class=\"timeline\" viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
      "aria-label=\"changes and what followed them\" xmlns=\"http://www.w3.org/2000/svg\">",
      W, h);
    P(q,
      "<text x=\"8\" y=\"%d\">changes</text><text x=\"8\" y=\"%d\">incidents</text>"
      "<text x=\"8\" y=\"%d\">alerts</text>",
      yc + 4, yi0 + 12, ya0 + 12);
    draw_axis(q, &a, h - 30);
    /* the links first, under the marks */
    for (size_t i = 0; i < json_array_size(alerts) && !q->err; i++) {
        const json_t *al = json_array_get(alerts, i);
        const char *oid = lh__q_js(al, "outcome_id");
        const mark_t *o = find(&inc, oid);
        int y = o ? yi0 + o->row * yr + 8 : 0;
        if (!o && (o = find(&alr, oid)))
            y = ya0 + o->row * yr + 8;
        int64_t ot = o ? o->t0 : tparse(lh__q_js(al, "outcome_time"));
        if (!y)
            y = yi0 + 8;
        const json_t *sus = json_object_get(al, "suspects");
        for (size_t k = 0; k < json_array_size(sus); k++) {
            const json_t *s = json_array_get(sus, k);
            const char *did = lh__q_js(s, "deploy_id");
            const mark_t *c = find(&chg, did);
            if (!c)
                continue;
            int top = lh__q_ji(s, "rank") == 1;
            if (page(q)) {
                P(q, "<a href=\"/incident");
                qs_t u = {0};
                qs_add(&u, "id", lh__q_js(al, "id"));
                hs(q, u.b);
                P(q, "\">");
            }
            P(q, "<line class=\"suspect-link\" data-deploy=\"");
            hs(q, did);
            P(q, "\" data-alert=\"");
            hs(q, lh__q_js(al, "id"));
            P(q,
              "\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#7d3c98\" "
              "stroke-width=\"%s\"%s><title>",
              xof(&a, ot), y, xof(&a, c->t0), yc, top ? "2" : "1",
              top ? "" : " stroke-dasharray=\"4 3\"");
            hs(q, did);
            P(q, " is suspect #%lld of ", (long long)lh__q_ji(s, "rank"));
            hs(q, oid);
            P(q, " (score %.3f)</title></line>", json_number_value(json_object_get(s, "score")));
            if (page(q))
                P(q, "</a>");
        }
    }
    const marks_t *lanes[2] = {&inc, &alr};
    const int ys[2] = {yi0, ya0};
    for (int l = 0; l < 2 && !q->err; l++) {
        for (size_t i = 0; i < lanes[l]->n; i++) {
            const mark_t *m = &lanes[l]->m[i];
            double x0 = xof(&a, m->t0), x1 = xof(&a, m->t1 ? m->t1 : a.to);
            if (x1 - x0 < 4)
                x1 = x0 + 4;
            if (page(q) && l == 0) {
                P(q, "<a href=\"/incident");
                qs_t u = {0};
                qs_add(&u, "id", m->id);
                hs(q, u.b);
                P(q, "\">");
            }
            P(q,
              "<rect class=\"outcome-span %s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
              "height=\"14\" rx=\"3\" fill=\"%s\" fill-opacity=\"0.55\"><title>",
              l == 0 ? "incident" : "alert", x0, ys[l] + m->row * yr + 1, x1 - x0,
              l == 0 ? "#c0392b" : "#e67e22");
            hs(q, m->id);
            if (m->label) {
                P(q, ": ");
                hs(q, m->label);
            }
            P(q, " (");
            hs(q, m->cls ? m->cls : "no severity");
            P(q, ")%s</title></rect>", m->t1 ? "" : ", still open");
            if (page(q) && l == 0)
                P(q, "</a>");
        }
    }
    for (size_t i = 0; i < chg.n && !q->err; i++) {
        const mark_t *m = &chg.m[i];
        if (page(q)) {
            P(q, "<a href=\"/change");
            qs_t u = {0};
            qs_add(&u, "id", m->id);
            qs_add(&u, "env", env);
            hs(q, u.b);
            P(q, "\">");
        }
        P(q, "<circle class=\"change-marker\" data-deploy=\"");
        hs(q, m->id);
        P(q,
          "\" data-class=\"%s\" cx=\"%.1f\" cy=\"%d\" r=\"7\" fill=\"%s\" stroke=\"#fff\" "
          "stroke-width=\"1.5\"><title>",
          m->cls, xof(&a, m->t0), yc, change_colour(m->cls));
        hs(q, m->id);
        if (m->label) {
            P(q, " ");
            hs(q, m->label);
        }
        P(q, ": %s</title></circle>", m->cls);
        if (page(q))
            P(q, "</a>");
        P(q, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#5b6475\">", xof(&a, m->t0),
          yc + (i % 2 ? -12 : 20));
        hs(q, m->id);
        P(q, "</text>");
    }
    P(q,
      "</svg>\n<p class=\"muted\">Changes: <span style=\"color:#27ae60\">&#9679; healthy</span>"
      " <span style=\"color:#7d3c98\">&#9679; suspect</span> "
      "<span style=\"color:#c0392b\">&#9679; failed</span> "
      "<span style=\"color:#e67e22\">&#9679; rolled back</span> "
      "<span style=\"color:#8a93a3\">&#9679; in progress</span>; a line joins an outcome to "
      "each suspect (solid: the top one). Hover for details%s.</p>\n",
      page(q) ? ", click to open" : "");
    free(chg.m);
    free(inc.m);
    free(alr.m);
}

static int
by_time(const void *a, const void *b)
{
    int64_t x = tparse(lh__q_js(*(json_t *const *)a, "time"));
    int64_t y = tparse(lh__q_js(*(json_t *const *)b, "time"));
    return (x > y) - (x < y);
}

/* arr's elements in time order (a stable copy: equal times keep their order). */
static json_t *
sorted_by_time(qctx_t *q, json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = calloc(n + 1, sizeof(*v)), *out = json_array();
    if (!v || !out) {
        free(v);
        json_decref(out);
        q->err = LH_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(arr, i);
    /* insertion sort: stable, and these lists are short */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && by_time(&v[k - 1], &v[k]) > 0; k--) {
            json_t *t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

/* What an event (loophub JSON) says, in a few words: its ids, status or state, version,
 * severity, title and actor, each through put (escaped for the page or the table). */
static void
event_what(qctx_t *q, const json_t *e, void (*put)(qctx_t *, const char *))
{
    const char *kind = lh__q_js(e, "kind");
    const json_t *d = kind ? json_object_get(e, kind) : NULL;
    static const char *const keys[] = {"deploy_id", "incident_id", "ticket_id", "name",  "status",
                                       "state",     "version",     "severity",  "title", "summary"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (lh__q_js(d, keys[k])) {
            put(q, lh__q_js(d, keys[k]));
            P(q, " ");
        }
    if (lh__q_js(e, "actor")) {
        P(q, "by ");
        put(q, lh__q_js(e, "actor"));
    }
}

/* A table of events (loophub JSON): time, kind, id, and what it says. */
static void
events_table(qctx_t *q, const json_t *events)
{
    P(q, "<table class=\"events\"><tr><th>time</th><th>kind</th><th>id</th><th>what</th></tr>");
    for (size_t i = 0; i < json_array_size(events) && !q->err; i++) {
        const json_t *e = json_array_get(events, i);
        const char *kind = lh__q_js(e, "kind");
        P(q, "<tr><td>");
        hshort(q, lh__q_js(e, "time"));
        P(q, "</td><td>");
        hs(q, kind);
        P(q, "</td><td>");
        hs(q, lh__q_js(e, "id"));
        P(q, "</td><td>");
        event_what(q, e, hs);
        P(q, "</td></tr>");
    }
    P(q, "</table>\n");
}

/* --- the timeline pages --------------------------------------------------------------------- */

static void
html_service(qctx_t *q)
{
    const json_t *d = q->doc;
    char title[300];
    snprintf(title, sizeof(title), "%s / %s", lh__q_js(d, "service"), lh__q_js(d, "environment"));
    begin(q, title);
    if (page(q)) {
        P(q, "<form class=\"picker\" method=\"get\" action=\"/\"><label>service<input "
             "name=\"service\" value=\"");
        hs(q, lh__q_js(d, "service"));
        P(q, "\"></label><label>environment<input name=\"env\" value=\"");
        hs(q, lh__q_js(d, "environment"));
        P(q, "\"></label><label>since<select name=\"since\">");
        static const char *const spans[] = {"1h", "6h", "24h", "7d", "30d"};
        const char *cur = lh__q_js(d, "since");
        int known = 0;
        for (size_t i = 0; i < 5; i++) {
            int sel = cur && !strcmp(cur, spans[i]);
            known |= sel;
            P(q, "<option%s>%s</option>", sel ? " selected" : "", spans[i]);
        }
        if (!known) { /* a period given as times: offered as it is */
            P(q, "<option selected value=\"");
            hs(q, lh__q_js(d, "from"));
            P(q, "\">");
            hshort(q, lh__q_js(d, "from"));
            P(q, "</option>");
        }
        P(q, "</select></label><label>until (empty: now)<input name=\"until\" value=\"");
        if (q->req->until_ns)
            hs(q, lh__q_js(d, "to"));
        P(q, "\" placeholder=\"2026-11-30T17:00:00Z\"></label><button>Show</button></form>\n");
    }
    P(q, "<h1>");
    hs(q, title);
    P(q, "</h1><div class=\"sub\">");
    hshort(q, lh__q_js(d, "from"));
    P(q, " to ");
    hshort(q, lh__q_js(d, "to"));
    P(q, ": %lld events, %zu correlated alerts%s</div>\n", (long long)lh__q_ji(d, "total"),
      json_array_size(json_object_get(d, "alerts")),
      json_is_true(json_object_get(d, "truncated")) ? " (the newest shown)" : "");
    axis_t a = {tparse(lh__q_js(d, "from")), tparse(lh__q_js(d, "to"))};
    draw_timeline(q, json_object_get(d, "events"), json_object_get(d, "alerts"), a,
                  lh__q_js(d, "environment"));
    P(q, "<h2>Events</h2>");
    events_table(q, json_object_get(d, "events"));
    qs_t u = {0};
    qs_add(&u, "service", lh__q_js(d, "service"));
    qs_add(&u, "env", lh__q_js(d, "environment"));
    qs_add(&u, "since", lh__q_js(d, "since"));
    if (!lh__q_js(d, "since"))
        qs_add(&u, "since", lh__q_js(d, "from"));
    end(q, "/v1/timeline", &u);
}

/* The tickets of a suspect or a change, with their approval; started (an RFC 3339 time, may
 * be NULL): an approval after it is said to be so. */
static void
tickets_cell(qctx_t *q, const json_t *tk, const char *started)
{
    if (!json_array_size(tk)) {
        P(q, "<span class=\"muted\">no ticket</span>");
        return;
    }
    for (size_t i = 0; i < json_array_size(tk); i++) {
        const json_t *t = json_array_get(tk, i);
        const char *ap = lh__q_js(t, "approval");
        P(q, "%s", i ? "<br>" : "");
        if (lh__q_js(t, "url")) {
            P(q, "<a href=\"");
            hs(q, lh__q_js(t, "url"));
            P(q, "\">");
            hs(q, lh__q_js(t, "ticket_id"));
            P(q, "</a>");
        } else {
            hs(q, lh__q_js(t, "ticket_id"));
        }
        int64_t at = tparse(lh__q_js(t, "approval_time")), t0 = tparse(started);
        int late = ap && !strcmp(ap, "approved") && t0 && at > t0;
        P(q, " <span class=\"%s\">",
          ap && !strcmp(ap, "approved") && !late ? "approved" : "rejected");
        hs(q, late ? "approved after the deploy" : ap && strcmp(ap, "none") ? ap : "not approved");
        P(q, "</span>");
    }
}

static void
html_incident(qctx_t *q)
{
    const json_t *d = q->doc;
    char title[300];
    snprintf(title, sizeof(title), "%s %s", lh__q_js(d, "subject") ? lh__q_js(d, "subject") : "",
             lh__q_js(d, "incident_id") ? lh__q_js(d, "incident_id")
                                        : (lh__q_js(d, "alert_id") ? lh__q_js(d, "alert_id") : ""));
    begin(q, title);
    P(q, "<h1>");
    hs(q, title);
    P(q, " on ");
    hs(q, lh__q_js(d, "service"));
    P(q, "/");
    hs(q, lh__q_js(d, "environment"));
    P(q, "</h1><div class=\"sub\">");
    if (lh__q_js(d, "title")) {
        hs(q, lh__q_js(d, "title"));
        P(q, "; ");
    }
    if (lh__q_js(d, "severity")) {
        hs(q, lh__q_js(d, "severity"));
        P(q, "; ");
    }
    P(q, "started ");
    hshort(q, lh__q_js(d, "started"));
    if (lh__q_js(d, "resolved")) {
        P(q, ", resolved ");
        hshort(q, lh__q_js(d, "resolved"));
        P(q, ": time to restore ");
        hdur(q, lh__q_ji(d, "time_to_restore_seconds"));
    } else {
        P(q, ", <b>still open</b>");
    }
    P(q, "; correlated alert ");
    hs(q, lh__q_js(d, "alert_id"));
    P(q, "</div>\n");

    const json_t *alerts = json_object_get(d, "alerts");
    const json_t *last = json_array_get(alerts, json_array_size(alerts) - 1);
    const json_t *sus = json_object_get(d, "suspects");
    if (lh__q_js(last, "rollback_version")) {
        P(q, "<div class=\"card\">Roll back to <b class=\"rollback\">");
        hs(q, lh__q_js(last, "rollback_version"));
        P(q, "</b> (the version before the top suspect's service changed)</div>\n");
    }
    /* the picture: the suspects' changes and the outcome */
    json_t *evs = json_array();
    int64_t lo = tparse(lh__q_js(d, "started")), hi = tparse(lh__q_js(d, "resolved"));
    for (size_t i = 0; evs && i < json_array_size(sus); i++) {
        const json_t *se = json_object_get(json_array_get(sus, i), "events");
        for (size_t k = 0; k < json_array_size(se); k++) {
            json_array_append(evs, json_array_get(se, k));
            int64_t t = tparse(lh__q_js(json_array_get(se, k), "time"));
            if (t && (!lo || t < lo))
                lo = t;
        }
    }
    const json_t *own = json_object_get(d, "events");
    const json_t *others = json_object_get(d, "other_alerts");
    for (size_t k = 0; evs && k < json_array_size(others); k++)
        json_array_append(evs, json_array_get(others, k));
    for (size_t k = 0; evs && k < json_array_size(own); k++) {
        json_array_append(evs, json_array_get(own, k));
        int64_t t = tparse(lh__q_js(json_array_get(own, k), "time"));
        if (t > hi)
            hi = t;
    }
    if (!hi)
        hi = q->now;
    json_t *links = json_array();
    json_t *l = json_object();
    lh__q_jset(q, l, "id", lh__q_jstr(lh__q_js(d, "alert_id")));
    const json_t *o0 = json_array_get(json_object_get(d, "outcomes"), 0);
    lh__q_jset(q, l, "outcome_id", lh__q_jstr(lh__q_js(o0, "event_id")));
    lh__q_jset(q, l, "outcome_time", lh__q_jstr(lh__q_js(d, "started")));
    lh__q_jset(q, l, "suspects", json_incref((json_t *)sus));
    lh__q_jpush(q, links, l);
    int64_t pad = (hi - lo) / 12 + LH_NS_PER_SEC * 60;
    axis_t a = {lo - pad, hi + pad};
    json_t *sorted = sorted_by_time(q, evs);
    if (sorted)
        draw_timeline(q, sorted, links, a, lh__q_js(d, "environment"));
    json_decref(sorted);
    json_decref(evs);
    json_decref(links);

    P(q, "<h2>Suspects, ranked</h2><table class=\"suspects\"><tr><th>#</th><th>change</th>"
         "<th>version</th><th>score</th><th>before</th><th>who</th><th>why</th>"
         "<th>tickets</th></tr>");
    for (size_t i = 0; i < json_array_size(sus) && !q->err; i++) {
        const json_t *s = json_array_get(sus, i);
        P(q, "<tr class=\"suspect-row\"><td>%lld</td><td>", (long long)lh__q_ji(s, "rank"));
        if (page(q)) {
            P(q, "<a class=\"suspect-change\" href=\"/change");
            qs_t u = {0};
            qs_add(&u, "id", lh__q_js(s, "deploy_id"));
            qs_add(&u, "env", lh__q_js(s, "environment"));
            hs(q, u.b);
            P(q, "\">");
        }
        hs(q, lh__q_js(s, "deploy_id"));
        if (page(q))
            P(q, "</a>");
        P(q, "<br><span class=\"muted\">");
        hs(q, lh__q_js(s, "service"));
        P(q, " ");
        hshort(q, lh__q_js(s, "deploy_time"));
        P(q, "</span></td><td>");
        hs(q, lh__q_js(s, "previous_version"));
        P(q, " &rarr; ");
        hs(q, lh__q_js(s, "version"));
        P(q, "<br><span class=\"%s\">", lh__q_js(s, "status") ? lh__q_js(s, "status") : "");
        hs(q, lh__q_js(s, "status"));
        P(q, "</span></td><td>%.3f</td><td>", json_number_value(json_object_get(s, "score")));
        hdur(q, lh__q_ji(s, "lead_seconds"));
        P(q, "</td><td>");
        hs(q, lh__q_js(s, "actor"));
        if (lh__q_js(s, "commit")) {
            P(q, "<br><span class=\"muted\">");
            hs(q, lh__q_js(s, "commit"));
            P(q, "</span>");
        }
        P(q, "</td><td><ul>");
        const json_t *rs = json_object_get(s, "reasons");
        for (size_t k = 0; k < json_array_size(rs); k++) {
            P(q, "<li>");
            hs(q, json_string_value(json_array_get(rs, k)));
            P(q, "</li>");
        }
        P(q, "</ul></td><td>");
        tickets_cell(q, json_object_get(s, "tickets"), lh__q_js(s, "deploy_time"));
        P(q, "</td></tr>");
    }
    if (!json_array_size(sus))
        P(q, "<tr><td colspan=\"8\" class=\"muted\">no change preceded it in the window</td></tr>");
    P(q, "</table>\n");
    const json_t *tk = json_object_get(d, "tickets");
    if (json_array_size(tk)) {
        P(q, "<h2>Tickets of the incident</h2><div class=\"card\">");
        tickets_cell(q, tk, NULL);
        P(q, "</div>");
    }
    P(q, "<h2>What happened</h2>");
    events_table(q, own);
    if (json_array_size(others)) {
        P(q, "<h2>Other alerts on the service and its hosts</h2>");
        events_table(q, others);
    }
    qs_t u = {0};
    qs_add(&u, "incident", q->req->incident_id);
    end(q, "/v1/timeline", &u);
}

static void
html_deploy(qctx_t *q)
{
    const json_t *d = q->doc;
    char title[300];
    snprintf(title, sizeof(title), "Change %s", q->req->deploy_id);
    begin(q, title);
    P(q, "<h1>");
    hs(q, title);
    P(q, "</h1><div class=\"sub\">");
    hs(q, lh__q_js(d, "service"));
    P(q, "/");
    hs(q, lh__q_js(d, "environment"));
    P(q, ": ");
    hs(q, lh__q_js(d, "previous_version"));
    P(q, " &rarr; ");
    hs(q, lh__q_js(d, "version"));
    P(q, " by ");
    hs(q, lh__q_js(d, "actor"));
    P(q, "; outcome class <b class=\"%s\">", lh__q_js(d, "class") ? lh__q_js(d, "class") : "");
    hs(q, lh__q_js(d, "class"));
    P(q, "</b></div>\n<h2>Tickets</h2><div class=\"card\">");
    tickets_cell(q, json_object_get(d, "tickets"), lh__q_js(d, "change_time"));
    P(q, "</div><h2>Its events</h2>");
    events_table(q, json_object_get(d, "events"));
    const json_t *outs = json_object_get(d, "outcomes");
    P(q, "<h2>What followed it</h2>");
    if (!json_array_size(outs))
        P(q, "<p class=\"muted\">no outcome was correlated with it</p>");
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const json_t *o = json_array_get(outs, i);
        P(q, "<div class=\"card\">");
        const char *aid = lh__q_js(o, "alert_id");
        if (page(q) && aid) {
            P(q, "<a href=\"/incident");
            qs_t u = {0};
            qs_add(&u, "id", aid);
            hs(q, u.b);
            P(q, "\">");
        }
        hs(q, aid ? aid : "an outcome");
        if (page(q) && aid)
            P(q, "</a>");
        P(q, ": rank %lld, score %.3f</div>", (long long)lh__q_ji(o, "rank"),
          json_number_value(json_object_get(o, "score")));
    }
    qs_t u = {0};
    qs_add(&u, "deploy", q->req->deploy_id);
    qs_add(&u, "env", q->req->environment);
    end(q, "/v1/timeline", &u);
}

void
lh__q_html_timeline(qctx_t *q)
{
    if (q->req->mode == LH_TIMELINE_INCIDENT)
        html_incident(q);
    else if (q->req->mode == LH_TIMELINE_DEPLOY)
        html_deploy(q);
    else
        html_service(q);
}

/* --- the reports ---------------------------------------------------------------------------- */

/* A filter form of the hub's page: the report's parameters as inputs. */
static void
form(qctx_t *q, const char *action, const char *const *names, const char *const *values)
{
    if (!page(q))
        return;
    P(q, "<form method=\"get\" action=\"%s\">", action);
    for (size_t i = 0; names[i]; i++) {
        if (!strcmp(names[i], "every") || !strcmp(names[i], "by")) {
            static const char *const every[] = {"week", "day", NULL}, *const by[] = {"", "service",
                                                                                     NULL};
            const char *const *opts = !strcmp(names[i], "every") ? every : by;
            P(q, "<label>%s<select name=\"%s\">", names[i], names[i]);
            for (size_t k = 0; opts[k]; k++)
                P(q, "<option value=\"%s\"%s>%s</option>", opts[k],
                  (values[i] && !strcmp(values[i], opts[k])) || (!values[i] && !*opts[k])
                      ? " selected"
                      : "",
                  *opts[k] ? opts[k] : "(all)");
            if (values[i] && strcmp(values[i], "service") && strcmp(values[i], "week") &&
                strcmp(values[i], "day")) {
                P(q, "<option selected>");
                hs(q, values[i]);
                P(q, "</option>");
            }
            P(q, "</select></label>");
            continue;
        }
        if (!strcmp(names[i], "unapproved")) {
            P(q,
              "<label>unapproved only<input type=\"checkbox\" name=\"unapproved\" value=\"1\"%s>"
              "</label>",
              values[i] ? " checked" : "");
            continue;
        }
        P(q, "<label>%s<input name=\"%s\" value=\"", names[i], names[i]);
        hs(q, values[i] ? values[i] : "");
        P(q, "\"></label>");
    }
    P(q, "<button>Show</button></form>\n");
}

static void
html_deployed(qctx_t *q)
{
    const lh_report_req_t *r = q->rreq;
    const json_t *d = q->doc, *arr = json_object_get(d, "services");
    begin(q, "Deployed");
    const char *names[] = {"service", "env", "host", "at", NULL};
    const char *vals[] = {r->service, r->environment, r->host, NULL};
    form(q, "/deployed", names, vals);
    P(q, "<h1>What runs where</h1><div class=\"sub\">at ");
    hshort(q, lh__q_js(d, "at"));
    P(q, ": %zu services and environments, %lld rows</div>\n", json_array_size(arr),
      (long long)lh__q_ji(d, "rows"));
    P(q, "<table class=\"deployed\"><tr><th>service</th><th>environment</th><th>hosts: version "
         "(change, since)</th></tr>");
    for (size_t i = 0; i < json_array_size(arr) && !q->err; i++) {
        const json_t *e = json_array_get(arr, i);
        P(q, "<tr><td>");
        if (page(q)) {
            P(q, "<a href=\"/");
            qs_t u = {0};
            qs_add(&u, "service", lh__q_js(e, "service"));
            qs_add(&u, "env", lh__q_js(e, "environment"));
            hs(q, u.b);
            P(q, "\">");
        }
        hs(q, lh__q_js(e, "service"));
        if (page(q))
            P(q, "</a>");
        P(q, "</td><td>");
        hs(q, lh__q_js(e, "environment"));
        P(q, "</td><td><table class=\"hosts\"><tr>");
        const json_t *hs_ = json_object_get(e, "hosts");
        for (size_t k = 0; k < json_array_size(hs_); k++) {
            const json_t *h = json_array_get(hs_, k);
            P(q, "<td class=\"cell\"><span class=\"muted\">");
            hs(q, lh__q_js(h, "host") ? lh__q_js(h, "host")
                                      : (json_array_size(hs_) > 1 ? "(others)" : "(all)"));
            P(q, "</span><br><b class=\"version\">");
            hs(q, lh__q_js(h, "version"));
            P(q, "</b><br><span class=\"muted\">");
            hs(q, lh__q_js(h, "deploy_id"));
            P(q, ", ");
            hshort(q, lh__q_js(h, "since"));
            P(q, "</span></td>");
        }
        P(q, "</tr></table>");
        const json_t *nr = json_object_get(e, "not_running");
        for (size_t k = 0; k < json_array_size(nr); k++) {
            const json_t *x = json_array_get(nr, k);
            P(q, "<div class=\"muted\">not running: ");
            hs(q, lh__q_js(x, "deploy_id"));
            P(q, " ");
            hs(q, lh__q_js(x, "version"));
            P(q, " (<span class=\"%s\">", lh__q_js(x, "status") ? lh__q_js(x, "status") : "");
            hs(q, lh__q_js(x, "status"));
            P(q, "</span>)</div>");
        }
        P(q, "</td></tr>");
    }
    P(q, "</table>\n");
    qs_t u = {0};
    qs_add(&u, "service", r->service);
    qs_add(&u, "env", r->environment);
    qs_add(&u, "host", r->host);
    qs_add(&u, "at", lh__q_js(d, "at"));
    end(q, "/v1/deployed", &u);
}

static void
html_audit(qctx_t *q)
{
    const lh_report_req_t *r = q->rreq;
    const json_t *d = q->doc, *arr = json_object_get(d, "changes");
    begin(q, "Audit");
    const char *names[] = {"service", "env", "actor", "since", "unapproved", NULL};
    const char *vals[] = {r->service, r->environment, r->actor, lh__q_js(d, "from"),
                          r->unapproved ? "1" : NULL};
    form(q, "/audit", names, vals);
    P(q, "<h1>Changes</h1><div class=\"sub\">started ");
    hshort(q, lh__q_js(d, "from"));
    P(q, " to ");
    hshort(q, lh__q_js(d, "to"));
    P(q, ": %zu shown", json_array_size(arr));
    const json_t *counts = json_object_get(d, "approval_counts");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)counts, k, v)
    {
        P(q, "; %lld ", (long long)json_integer_value(v));
        hs(q, k);
    }
    if (!json_is_true(json_object_get(d, "complete"))) {
        P(q, "; the limit was reached: changes with activity before ");
        hshort(q, lh__q_js(d, "read_back_to"));
        P(q, " were not read");
    }
    P(q, "</div>\n<table class=\"audit\"><tr><th>started</th><th>change</th><th>where</th>"
         "<th>what</th><th>status</th><th>who</th><th>approval</th><th>tickets</th></tr>");
    for (size_t i = 0; i < json_array_size(arr) && !q->err; i++) {
        const json_t *o = json_array_get(arr, i);
        const char *ap = lh__q_js(o, "approval");
        P(q, "<tr class=\"change-row\"><td>");
        hshort(q, lh__q_js(o, "started"));
        P(q, "</td><td>");
        if (page(q)) {
            P(q, "<a href=\"/change");
            qs_t u = {0};
            qs_add(&u, "id", lh__q_js(o, "deploy_id"));
            qs_add(&u, "env", lh__q_js(o, "environment"));
            hs(q, u.b);
            P(q, "\">");
        }
        hs(q, lh__q_js(o, "deploy_id"));
        if (page(q))
            P(q, "</a>");
        P(q, "</td><td>");
        hs(q, lh__q_js(o, "service"));
        P(q, "/");
        hs(q, lh__q_js(o, "environment"));
        const json_t *hosts = json_object_get(o, "hosts");
        if (json_array_size(hosts)) {
            P(q, "<br><span class=\"muted\">");
            for (size_t h = 0; h < json_array_size(hosts); h++) {
                P(q, h ? " " : "");
                hs(q, json_string_value(json_array_get(hosts, h)));
            }
            P(q, "</span>");
        }
        P(q, "</td><td>");
        hs(q, lh__q_js(o, "previous_version"));
        P(q, " &rarr; ");
        hs(q, lh__q_js(o, "version"));
        if (lh__q_js(o, "commit")) {
            P(q, "<br><span class=\"muted\">");
            hs(q, lh__q_js(o, "commit"));
            P(q, "</span>");
        }
        P(q, "</td><td class=\"%s\">", lh__q_js(o, "status") ? lh__q_js(o, "status") : "");
        hs(q, lh__q_js(o, "status"));
        P(q, "</td><td>");
        hs(q, lh__q_js(o, "actor"));
        P(q, "</td><td class=\"%s\">", ap && !strcmp(ap, "approved") ? "approved" : "rejected");
        hs(q, ap);
        P(q, "</td><td>");
        tickets_cell(q, json_object_get(o, "tickets"), lh__q_js(o, "started"));
        P(q, "</td></tr>");
    }
    P(q, "</table>\n");
    qs_t u = {0};
    qs_add(&u, "service", r->service);
    qs_add(&u, "env", r->environment);
    qs_add(&u, "actor", r->actor);
    qs_add(&u, "since", lh__q_js(d, "from"));
    qs_add(&u, "until", lh__q_js(d, "to"));
    if (r->unapproved)
        qs_add(&u, "unapproved", "1");
    end(q, "/v1/audit", &u);
}

/* One figure's value in words: "0.86/day", "2h", "50.0%" or "-". */
static void
figure_value(qctx_t *q, const char *name, const json_t *f)
{
    char b[64] = "-";
    if (!strcmp(name, "deployment_frequency")) {
        snprintf(b, sizeof(b), "%.2f/day", json_number_value(json_object_get(f, "per_day")));
    } else if (json_object_get(f, "median_seconds")) {
        const json_t *m = json_object_get(f, "median_seconds");
        if (json_is_integer(m))
            lh_duration_human(json_integer_value(m) * LH_NS_PER_SEC, b, sizeof(b));
    } else if (json_is_number(json_object_get(f, "rate"))) {
        snprintf(b, sizeof(b), "%.1f%%", json_number_value(json_object_get(f, "rate")) * 100.0);
    }
    hs(q, b);
}

/* The value a trend plot draws for a figure: per day, median seconds, or a rate (-1: none). */
static double
figure_number(const char *name, const json_t *f)
{
    if (!strcmp(name, "deployment_frequency"))
        return json_number_value(json_object_get(f, "per_day"));
    const json_t *v = json_object_get(f, "median_seconds");
    if (!v)
        v = json_object_get(f, "rate");
    return json_is_number(v) ? json_number_value(v) : -1;
}

static void
trend_plot(qctx_t *q, const char *name, const json_t *trend)
{
    const int w = 260, h = 90, pad = 8;
    size_t n = json_array_size(trend);
    double max = 0;
    for (size_t i = 0; i < n; i++) {
        double v = figure_number(
            name, json_object_get(json_object_get(json_array_get(trend, i), "figures"), name));
        if (v > max)
            max = v;
    }
    P(q,
      "<svg class=\"trend-plot\" data-figure=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
      "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">",
      name, w, h, w, h);
    double bw = n ? (double)(w - 2 * pad) / (double)n : 0;
    for (size_t i = 0; i < n && !q->err; i++) {
        const json_t *row = json_array_get(trend, i);
        double v = figure_number(name, json_object_get(json_object_get(row, "figures"), name));
        double bh = v > 0 && max > 0 ? (double)(h - 2 * pad - 12) * v / max : 0;
        P(q,
          "<rect class=\"trend-bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"%s\"><title>",
          pad + bw * (double)i + 1, (double)(h - pad - 12) - bh, bw > 3 ? bw - 2 : bw, bh,
          v < 0 ? "#e3e6eb" : "#4f6fd0");
        hshort(q, lh__q_js(row, "from"));
        P(q, ": ");
        figure_value(q, name, json_object_get(json_object_get(row, "figures"), name));
        P(q, "</title></rect>");
    }
    if (n) {
        P(q, "<text x=\"%d\" y=\"%d\" fill=\"#5b6475\">", pad, h - 2);
        hshort(q, lh__q_js(json_array_get(trend, 0), "from"));
        P(q, "</text>");
    }
    P(q, "</svg>");
}

static void
html_dora(qctx_t *q)
{
    const lh_report_req_t *r = q->rreq;
    const json_t *d = q->doc, *groups = json_object_get(d, "groups");
    begin(q, "DORA");
    const char *names[] = {"env", "service", "since", "by", "every", NULL};
    const char *vals[] = {r->environment, r->service, lh__q_js(d, "from"), r->by,
                          r->every == LH_REPORT_EVERY_DAY    ? "day"
                          : r->every == LH_REPORT_EVERY_WEEK ? "week"
                                                             : NULL};
    form(q, "/dora", names, vals);
    P(q, "<h1>Delivery performance</h1><div class=\"sub\">");
    hshort(q, lh__q_js(d, "from"));
    P(q, " to ");
    hshort(q, lh__q_js(d, "to"));
    if (r->environment) {
        P(q, ", environment ");
        hs(q, r->environment);
    }
    P(q, "; bands: ");
    hs(q, lh__q_js(d, "bands"));
    P(q, "; definitions in docs/dora.md</div>\n");
    static const struct {
        const char *key, *title, *sample;
    } figs[] = {
        {"deployment_frequency", "Deployment frequency", "deployments"},
        {"lead_time", "Change lead time (median)", "n"},
        {"change_failure_rate", "Change failure rate", "failed"},
        {"recovery_time", "Failed deployment recovery time", "n"},
        {"time_to_restore", "Incident time to restore", "n"},
        {"rework_rate", "Rework rate", "rework"},
    };
    for (size_t g = 0; g < json_array_size(groups) && !q->err; g++) {
        const json_t *e = json_array_get(groups, g), *f = json_object_get(e, "figures");
        if (r->by) {
            P(q, "<h2>");
            hs(q, r->by);
            P(q, " ");
            hs(q, lh__q_js(e, "group"));
            P(q, "</h2>");
        }
        P(q, "<div class=\"cards\">");
        for (size_t k = 0; k < sizeof(figs) / sizeof(figs[0]); k++) {
            const json_t *x = json_object_get(f, figs[k].key);
            const char *band = lh__q_js(x, "band");
            P(q, "<div class=\"card figure\" data-figure=\"%s\"><div>%s</div><div class=\"big\">",
              figs[k].key, figs[k].title);
            figure_value(q, figs[k].key, x);
            P(q, "</div><div class=\"muted\">");
            if (!strcmp(figs[k].sample, "failed") || !strcmp(figs[k].sample, "rework"))
                P(q, "%lld of %lld deployments", (long long)lh__q_ji(x, figs[k].sample),
                  (long long)lh__q_ji(x, "deployments"));
            else
                P(q, "sample %lld", (long long)lh__q_ji(x, figs[k].sample));
            if (json_is_integer(json_object_get(x, "p90_seconds"))) {
                P(q, ", p90 ");
                hdur(q, lh__q_ji(x, "p90_seconds"));
            }
            P(q, " <span class=\"band %s\">%s</span></div>", band ? band : "",
              band ? band : "no band");
            const json_t *trend = json_object_get(e, "trend");
            if (json_array_size(trend)) {
                json_t *col = json_array();
                for (size_t t = 0; col && t < json_array_size(trend); t++)
                    json_array_append(col, json_array_get(trend, t));
                trend_plot(q, figs[k].key, col);
                json_decref(col);
            }
            P(q, "</div>");
        }
        P(q, "</div>\n");
    }
    qs_t u = {0};
    qs_add(&u, "env", r->environment);
    qs_add(&u, "service", r->service);
    qs_add(&u, "since", lh__q_js(d, "from"));
    qs_add(&u, "until", lh__q_js(d, "to"));
    qs_add(&u, "by", r->by);
    qs_add(&u, "every", vals[4]);
    end(q, "/v1/dora", &u);
}

void
lh__q_html_report(qctx_t *q)
{
    if (q->fmt == LH_QUERY_MD) { /* a report's text is plain: fenced as it is */
        P(q, "```text\n");
        if (q->rreq->kind == LH_REPORT_DEPLOYED)
            lh__q_text_deployed(q);
        else if (q->rreq->kind == LH_REPORT_AUDIT)
            lh__q_text_audit(q);
        else
            lh__q_text_dora(q);
        P(q, "```\n");
        return;
    }
    if (q->rreq->kind == LH_REPORT_DEPLOYED)
        html_deployed(q);
    else if (q->rreq->kind == LH_REPORT_AUDIT)
        html_audit(q);
    else
        html_dora(q);
}

/* --- Markdown ------------------------------------------------------------------------------- */

/* s for a Markdown table cell: | and newlines escaped, control characters dropped. */
static void
md(qctx_t *q, const char *s)
{
    if (!s) {
        P(q, "-");
        return;
    }
    for (; *s && !q->err; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '|')
            P(q, "\\|");
        else if (c == '\n' || c == '\r')
            P(q, " ");
        else if (c >= 0x20 && c != 0x7f)
            P(q, "%c", c);
    }
}

static void
md_events(qctx_t *q, const json_t *events)
{
    P(q, "| time (UTC) | kind | id | what |\n|---|---|---|---|\n");
    for (size_t i = 0; i < json_array_size(events) && !q->err; i++) {
        const json_t *e = json_array_get(events, i);
        const char *kind = lh__q_js(e, "kind");
        P(q, "| ");
        md(q, lh__q_js(e, "time"));
        P(q, " | ");
        md(q, kind);
        P(q, " | ");
        md(q, lh__q_js(e, "id"));
        P(q, " | ");
        event_what(q, e, md);
        P(q, " |\n");
    }
}

void
lh__q_md_timeline(qctx_t *q)
{
    const json_t *d = q->doc;
    if (q->req->mode == LH_TIMELINE_INCIDENT) {
        P(q, "## Incident ");
        md(q, lh__q_js(d, "incident_id") ? lh__q_js(d, "incident_id") : lh__q_js(d, "alert_id"));
        P(q, " on ");
        md(q, lh__q_js(d, "service"));
        P(q, "/");
        md(q, lh__q_js(d, "environment"));
        P(q, "\n\n**Summary.** ");
        if (lh__q_js(d, "title")) {
            md(q, lh__q_js(d, "title"));
            P(q, ", ");
        }
        md(q, lh__q_js(d, "severity") ? lh__q_js(d, "severity") : "no severity");
        P(q, "; started ");
        md(q, lh__q_js(d, "started"));
        if (lh__q_js(d, "resolved")) {
            P(q, ", resolved ");
            md(q, lh__q_js(d, "resolved"));
            P(q, " (time to restore ");
            hdur(q, lh__q_ji(d, "time_to_restore_seconds"));
            P(q, ")");
        } else {
            P(q, "; still open");
        }
        P(q, "; correlated alert `");
        md(q, lh__q_js(d, "alert_id"));
        P(q, "`.");
        const json_t *alerts = json_object_get(d, "alerts");
        const json_t *last = json_array_get(alerts, json_array_size(alerts) - 1);
        if (lh__q_js(last, "rollback_version")) {
            P(q, " Rollback target: **");
            md(q, lh__q_js(last, "rollback_version"));
            P(q, "**.");
        }
        P(q, "\n\n### Suspects\n\n");
        const json_t *sus = json_object_get(d, "suspects");
        if (!json_array_size(sus))
            P(q, "No change preceded it in the window.\n");
        for (size_t i = 0; i < json_array_size(sus); i++) {
            const json_t *s = json_array_get(sus, i);
            P(q, "%lld. **", (long long)lh__q_ji(s, "rank"));
            md(q, lh__q_js(s, "deploy_id"));
            P(q, "** ");
            md(q, lh__q_js(s, "service"));
            P(q, " ");
            md(q, lh__q_js(s, "previous_version"));
            P(q, " -> ");
            md(q, lh__q_js(s, "version"));
            P(q, " by ");
            md(q, lh__q_js(s, "actor"));
            P(q, ", ");
            hdur(q, lh__q_ji(s, "lead_seconds"));
            P(q, " before, score %.3f\n", json_number_value(json_object_get(s, "score")));
            const json_t *rs = json_object_get(s, "reasons");
            for (size_t k = 0; k < json_array_size(rs); k++) {
                P(q, "   - ");
                md(q, json_string_value(json_array_get(rs, k)));
                P(q, "\n");
            }
            const json_t *tk = json_object_get(s, "tickets");
            for (size_t k = 0; k < json_array_size(tk); k++) {
                P(q, "   - ticket ");
                md(q, lh__q_js(json_array_get(tk, k), "ticket_id"));
                P(q, ": ");
                md(q, lh__q_js(json_array_get(tk, k), "approval"));
                P(q, "\n");
            }
        }
        P(q, "\n### Timeline\n\n");
        md_events(q, json_object_get(d, "events"));
    } else if (q->req->mode == LH_TIMELINE_DEPLOY) {
        P(q, "## Change ");
        md(q, q->req->deploy_id);
        P(q, "\n\n**Summary.** ");
        md(q, lh__q_js(d, "service"));
        P(q, "/");
        md(q, lh__q_js(d, "environment"));
        P(q, " ");
        md(q, lh__q_js(d, "previous_version"));
        P(q, " -> ");
        md(q, lh__q_js(d, "version"));
        P(q, " by ");
        md(q, lh__q_js(d, "actor"));
        P(q, "; outcome class **");
        md(q, lh__q_js(d, "class"));
        P(q, "**; %zu outcomes correlated.\n\n### Timeline\n\n",
          json_array_size(json_object_get(d, "outcomes")));
        md_events(q, json_object_get(d, "events"));
    } else {
        P(q, "## ");
        md(q, lh__q_js(d, "service"));
        P(q, "/");
        md(q, lh__q_js(d, "environment"));
        P(q, ", ");
        md(q, lh__q_js(d, "from"));
        P(q, " to ");
        md(q, lh__q_js(d, "to"));
        P(q, "\n\n**Summary.** %lld events, %zu correlated alerts.\n\n### Timeline\n\n",
          (long long)lh__q_ji(d, "total"), json_array_size(json_object_get(d, "alerts")));
        md_events(q, json_object_get(d, "events"));
    }
}
