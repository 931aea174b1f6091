/*
 * query_text.c - the timeline document as aligned human text. Strings from events are
 * printed with control characters replaced, so a title cannot break or forge lines.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "query_internal.h"

/* --- text ----------------------------------------------------------------------------------- */

#define tprintf lh__q_tprintf
#define tput lh__q_tput
#define ttime lh__q_ttime

void
lh__q_tprintf(qctx_t *q, const char *fmt, ...)
{
    if (q->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || lh_buf_reserve(q->out, (size_t)n) < 0) {
        q->err = LH_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf((char *)q->out->data + q->out->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    q->out->len += (size_t)n;
}

/* Appends s (NULL: "-") with control characters replaced by spaces, padded to width columns
 * (counting UTF-8 continuation bytes as nothing). */
void
lh__q_tput(qctx_t *q, const char *s, int width)
{
    if (q->err)
        return;
    if (!s)
        s = "-";
    size_t n = strlen(s);
    if (lh_buf_reserve(q->out, n + (width > 0 ? (size_t)width : 0)) < 0) {
        q->err = LH_ENOMEM;
        return;
    }
    int cols = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        q->out->data[q->out->len++] = (c < 0x20 || c == 0x7f) ? ' ' : c;
        if ((c & 0xc0) != 0x80)
            cols++;
    }
    for (; cols < width; cols++)
        q->out->data[q->out->len++] = ' ';
    q->out->data[q->out->len] = 0;
}

int
lh__q_ustrlen(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return s ? n : 1;
}

void
lh__q_ttime(qctx_t *q, int64_t ns, int width)
{
    char b[40] = "-";
    if (ns)
        lh_time_format(ns, b, sizeof(b));
    tput(q, b, width);
}

static void
tdur(qctx_t *q, int64_t ns)
{
    char b[40] = "";
    lh_duration_human(ns, b, sizeof(b));
    tput(q, b, 0);
}

/* Column widths of a list of events. */
typedef struct {
    int time, id;
} widths_t;

static widths_t
widths_of(lh_event_t *const *ev, size_t n)
{
    widths_t w = {20, 2};
    for (size_t i = 0; i < n; i++) {
        char b[40];
        int t = lh_time_format(ev[i]->time_ns, b, sizeof(b));
        if (t > w.time)
            w.time = t;
        int l = lh__q_ustrlen(ev[i]->id);
        if (l > w.id)
            w.id = l;
    }
    return w;
}

/* " <- <previous>", and " (from history)" when the hub derived it; nothing without one. */
static void
tprev(qctx_t *q, const char *prev, int derived)
{
    if (!prev)
        return;
    tprintf(q, " <- ");
    tput(q, prev, 0);
    if (derived)
        tprintf(q, " (from history)");
}

/* tprev() of a change or suspect object of the document. */
static void
tprev_json(qctx_t *q, const json_t *o)
{
    tprev(q, lh__q_js(o, "previous_version"),
          json_is_true(json_object_get(o, "previous_version_derived")));
}

/* "time  kind      id  essentials" (no newline). */
static void
tevent(qctx_t *q, const lh_event_t *ev, widths_t w)
{
    tprintf(q, "  ");
    ttime(q, ev->time_ns, w.time);
    tprintf(q, "  ");
    tput(q, lh_kind_name(ev->kind), 8);
    tprintf(q, "  ");
    tput(q, ev->id, w.id);
    tprintf(q, "  ");
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        tput(q, ev->deploy.deploy_id, 0);
        tprintf(q, " ");
        tput(q, lh_deploy_status_name(ev->deploy.status), 0);
        if (ev->deploy.version || ev->deploy.previous_version) {
            tprintf(q, " ");
            tput(q, ev->deploy.version, 0);
        }
        tprev(q, ev->deploy.previous_version, ev->deploy.previous_version_derived);
        if (ev->actor) {
            tprintf(q, " by ");
            tput(q, ev->actor, 0);
        }
        break;
    case LH_KIND_ALERT:
        tput(q, ev->alert.name, 0);
        tprintf(q, " ");
        tput(q, lh_alert_state_name(ev->alert.state), 0);
        tprintf(q, " ");
        tput(q, lh_severity_name(ev->alert.severity), 0);
        break;
    case LH_KIND_INCIDENT:
        tput(q, ev->incident.incident_id, 0);
        tprintf(q, " ");
        tput(q, lh_incident_state_name(ev->incident.state), 0);
        tprintf(q, " ");
        tput(q, lh_severity_name(ev->incident.severity), 0);
        if (ev->incident.title) {
            tprintf(q, " ");
            tput(q, ev->incident.title, 0);
        }
        break;
    case LH_KIND_TICKET:
        tput(q, ev->ticket.ticket_id, 0);
        tprintf(q, " ");
        tput(q, lh_ticket_state_name(ev->ticket.state), 0);
        if (ev->ticket.type) {
            tprintf(q, " (");
            tput(q, lh_ticket_type_name(ev->ticket.type), 0);
            tprintf(q, ")");
        }
        break;
    default:
        break;
    }
}

/* The newest `shown` events of l, after a line saying how many older ones a limit left out. */
static void
tevents(qctx_t *q, const char *title, const qlist_t *l, size_t shown)
{
    tprintf(q, "\n%s (%lld)\n", title, (long long)l->total);
    lh_event_t *const *ev = l->ev + (l->n - shown);
    int64_t older = l->total - (int64_t)shown;
    if (older > 0 && q->req->limit > 0 && (int64_t)shown >= q->req->limit)
        tprintf(q, "  ... %lld older events not shown (--limit %lld keeps the newest)\n",
                (long long)older, (long long)q->req->limit);
    widths_t w = widths_of(ev, shown);
    for (size_t i = 0; i < shown; i++) {
        tevent(q, ev[i], w);
        tprintf(q, "\n");
    }
    if (q->unreadable)
        tprintf(q, "  (%lld stored events could not be decoded; see the log)\n",
                (long long)q->unreadable);
}

/* "<version> <- <previous_version> by <actor>", each part only when o (a suspect or a deploy)
 * has it. */
static void
tversion(qctx_t *q, const json_t *o)
{
    tput(q, lh__q_js(o, "version"), 0);
    tprev_json(q, o);
    if (lh__q_js(o, "actor")) {
        tprintf(q, " by ");
        tput(q, lh__q_js(o, "actor"), 0);
    }
}

static void
treasons(qctx_t *q, const json_t *o, const char *indent)
{
    json_t *r = json_object_get(o, "reasons");
    for (size_t i = 0; i < json_array_size(r); i++) {
        tprintf(q, "%s- ", indent);
        tput(q, json_string_value(json_array_get(r, i)), 0);
        tprintf(q, "\n");
    }
}

/* The details of a change (the deploy document, or a suspect): commit and its time, artifact,
 * hosts, labels; one line each, only those it has. */
void
lh__q_text_change(qctx_t *q, const json_t *o, const char *indent)
{
    if (lh__q_js(o, "commit") || lh__q_js(o, "commit_time")) {
        tprintf(q, "%scommit         ", indent);
        tput(q, lh__q_js(o, "commit"), 0);
        if (lh__q_js(o, "commit_time")) {
            tprintf(q, "  committed ");
            tput(q, lh__q_js(o, "commit_time"), 0);
        }
        tprintf(q, "\n");
    }
    if (lh__q_js(o, "artifact")) {
        tprintf(q, "%sartifact       ", indent);
        tput(q, lh__q_js(o, "artifact"), 0);
        tprintf(q, "\n");
    }
    json_t *h = json_object_get(o, "hosts");
    if (json_array_size(h)) {
        tprintf(q, "%shosts          ", indent);
        for (size_t i = 0; i < json_array_size(h); i++) {
            tprintf(q, i ? " " : "");
            tput(q, json_string_value(json_array_get(h, i)), 0);
        }
        tprintf(q, "\n");
    }
    json_t *l = json_object_get(o, "labels");
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(l, k, v)
    {
        tprintf(q, first ? "%slabels         " : "%s               ", indent);
        tput(q, k, 0);
        tprintf(q, "=");
        tput(q, json_string_value(v), 0);
        tprintf(q, "\n");
        first = 0;
    }
}

/* The document's tickets (ticket events); named: a ticket the subject names (the incident's
 * ticket, the change ticket) that no stored ticket event is, listed too so it is never lost. */
static void
ttickets(qctx_t *q, const char *named, const char *by)
{
    json_t *t = json_object_get(q->doc, "tickets");
    int missing = named != NULL;
    for (size_t i = 0; i < q->tickets.n && missing; i++)
        missing = !q->tickets.ev[i]->ticket.ticket_id ||
                  strcmp(q->tickets.ev[i]->ticket.ticket_id, named) != 0;
    tprintf(q, "\ntickets (%zu)\n", json_array_size(t) + (missing ? 1 : 0));
    widths_t w = widths_of(q->tickets.ev, q->tickets.n);
    for (size_t i = 0; i < q->tickets.n; i++) {
        tevent(q, q->tickets.ev[i], w);
        if (q->tickets.ev[i]->ticket.url) {
            tprintf(q, "  ");
            tput(q, q->tickets.ev[i]->ticket.url, 0);
        }
        tprintf(q, "\n");
    }
    if (missing) {
        tprintf(q, "  ");
        tput(q, named, 0);
        tprintf(q, "  named by the %s; no event of that ticket stored\n", by);
    }
}

/* A suspect's tickets: one line per ticket with its approval state. */
static void
tsuspect_tickets(qctx_t *q, const json_t *o, const char *indent)
{
    json_t *t = json_object_get(o, "tickets");
    const char *named = lh__q_js(o, "change_ticket");
    int missing = named != NULL;
    for (size_t i = 0; i < json_array_size(t) && missing; i++)
        missing = strcmp(lh__q_js(json_array_get(t, i), "ticket_id"), named) != 0;
    tprintf(q, "%stickets (%zu)", indent, json_array_size(t) + (missing ? 1 : 0));
    if (!json_array_size(t) && !missing)
        tprintf(q, "  none: no ticket links this change");
    tprintf(q, "\n");
    for (size_t i = 0; i < json_array_size(t); i++) {
        json_t *x = json_array_get(t, i);
        tprintf(q, "%s  ", indent);
        tput(q, lh__q_js(x, "ticket_id"), 0);
        if (lh__q_js(x, "type")) {
            tprintf(q, " (");
            tput(q, lh__q_js(x, "type"), 0);
            tprintf(q, ")");
        }
        const char *ap = lh__q_js(x, "approval");
        tprintf(q, "  %s", ap && strcmp(ap, "none") ? ap : "not approved");
        if (lh__q_js(x, "state") && (!ap || strcmp(lh__q_js(x, "state"), ap))) {
            tprintf(q, ", now ");
            tput(q, lh__q_js(x, "state"), 0);
        }
        if (lh__q_js(x, "url")) {
            tprintf(q, "  ");
            tput(q, lh__q_js(x, "url"), 0);
        }
        tprintf(q, "\n");
    }
    if (missing) {
        tprintf(q, "%s  ", indent);
        tput(q, named, 0);
        tprintf(q, "  named by the change; no event of that ticket stored: not approved\n");
    }
}

/* An RFC 3339 time to the second ("2026-11-30T10:00:00.123Z" -> "2026-11-30T10:00:00Z"),
 * padded to 20 columns: when an alert was made, to the second, keeps its line short. */
static void
tsecs(qctx_t *q, const char *t)
{
    char b[40];
    const char *dot = t ? strchr(t, '.') : NULL;
    if (t && dot && dot - t < 30)
        snprintf(b, sizeof(b), "%.*sZ", (int)(dot - t), t);
    else
        snprintf(b, sizeof(b), "%s", t ? t : "-");
    tput(q, b, 20);
}

/* An ANSI SGR sequence ("1" bold, "31" red, "0" reset) when the request asked for colour (a
 * terminal): the text is the same without it. */
static void
tsgr(qctx_t *q, const char *sgr)
{
    if (q->req && q->req->color)
        tprintf(q, "\033[%sm", sgr);
}

/* s in the colour of an outcome class or a status: failed red, rolled back yellow, suspect
 * magenta, healthy or succeeded green. */
static void
tclass(qctx_t *q, const char *s)
{
    const char *c = !s                                                 ? NULL
                    : !strcmp(s, "failed")                             ? "31"
                    : !strcmp(s, "rolled_back")                        ? "33"
                    : !strcmp(s, "suspect")                            ? "35"
                    : !strcmp(s, "healthy") || !strcmp(s, "succeeded") ? "32"
                                                                       : NULL;
    if (c)
        tsgr(q, c);
    tput(q, s, 0);
    if (c)
        tsgr(q, "0");
}

void
lh__q_text_incident(qctx_t *q)
{
    json_t *d = q->doc;
    int is_alert = lh__q_js(d, "subject") && !strcmp(lh__q_js(d, "subject"), "alert");
    tsgr(q, "1");
    if (is_alert) {
        tprintf(q, "alert ");
        tput(q, lh__q_js(d, "title"), 0);
    } else {
        tprintf(q, "incident ");
        tput(q, lh__q_js(d, "incident_id"), 0);
    }
    tprintf(q, "  ");
    tput(q, lh__q_js(d, "severity"), 0);
    tprintf(q, "  ");
    tput(q, lh__q_js(d, "service"), 0);
    tprintf(q, "/");
    tput(q, lh__q_js(d, "environment"), 0);
    if (!is_alert && lh__q_js(d, "title")) {
        tprintf(q, "  \"");
        tput(q, lh__q_js(d, "title"), 0);
        tprintf(q, "\"");
    }
    tsgr(q, "0");
    tprintf(q, "\n");
    if (lh__q_js(d, "alert_id")) {
        tprintf(q, "  alert     ");
        tput(q, lh__q_js(d, "alert_id"), 0);
        tprintf(q, "\n");
    }
    if (lh__q_js(d, "ticket")) {
        tprintf(q, "  ticket    ");
        tput(q, lh__q_js(d, "ticket"), 0);
        tprintf(q, "\n");
    }
    json_t *hosts = json_object_get(d, "hosts");
    if (json_array_size(hosts)) {
        tprintf(q, "  hosts    ");
        for (size_t i = 0; i < json_array_size(hosts); i++) {
            tprintf(q, " ");
            tput(q, json_string_value(json_array_get(hosts, i)), 0);
        }
        tprintf(q, "\n");
    }
    tprintf(q, "  started   ");
    tput(q, lh__q_js(d, "started"), 0);
    if (lh__q_js(d, "resolved")) {
        tprintf(q, "\n  resolved  ");
        tput(q, lh__q_js(d, "resolved"), 0);
        tprintf(q, "  (time to restore ");
        tdur(q, lh__q_ji(d, "time_to_restore_seconds") * LH_NS_PER_SEC);
        tprintf(q, ")\n");
    } else {
        tprintf(q, "\n  ");
        tsgr(q, "31");
        tprintf(q, "not resolved");
        tsgr(q, "0");
        tprintf(q, "\n");
    }

    json_t *outs = json_object_get(d, "outcomes");
    if (json_array_size(outs) > 1) {
        tprintf(q, "\noutcomes (%zu)\n", json_array_size(outs));
        for (size_t i = 0; i < json_array_size(outs); i++) {
            json_t *o = json_array_get(outs, i);
            tprintf(q, "  ");
            tput(q, lh__q_js(o, "time"), 20);
            tprintf(q, "  ");
            tput(q, lh__q_js(o, "kind"), 8);
            tprintf(q, "  ");
            tput(q, lh__q_js(o, "ref"), 0);
            if (lh__q_js(o, "title") && strcmp(lh__q_js(o, "title"), lh__q_js(o, "ref"))) {
                tprintf(q, " ");
                tput(q, lh__q_js(o, "title"), 0);
            }
            if (lh__q_js(o, "resolved")) {
                tprintf(q, "  resolved ");
                tput(q, lh__q_js(o, "resolved"), 0);
            } else {
                tprintf(q, "  open");
            }
            if (json_is_true(json_object_get(o, "opened")))
                tprintf(q, "  (this timeline)");
            tprintf(q, "\n");
        }
    }
    tevents(q, "events", &q->events, lh__q_shown_of(q, &q->events));

    json_t *sus = json_object_get(d, "suspects");
    tprintf(q, "\nsuspects (%zu)\n", json_array_size(sus));
    if (json_array_size(sus) == 0)
        tprintf(q, "  none: no deploy preceded this outcome within the window\n");
    for (size_t i = 0; i < json_array_size(sus); i++) {
        json_t *o = json_array_get(sus, i);
        tprintf(q, "  #%lld  ", (long long)lh__q_ji(o, "rank"));
        tsgr(q, "1");
        tput(q, lh__q_js(o, "deploy_id"), 0);
        tsgr(q, "0");
        tprintf(q, "  ");
        tversion(q, o);
        tprintf(q, "  ");
        tput(q, lh__q_js(o, "service"), 0);
        tprintf(q, "/");
        tput(q, lh__q_js(o, "environment"), 0);
        tprintf(q, "  score %.2f  deployed ", json_real_value(json_object_get(o, "score")));
        tdur(q, lh__q_ji(o, "lead_seconds") * LH_NS_PER_SEC);
        tprintf(q, " before");
        if (lh__q_js(o, "status")) {
            tprintf(q, "  now ");
            tclass(q, lh__q_js(o, "status"));
        }
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, "  [late]");
        tprintf(q, "\n");
        treasons(q, o, "       ");
        if (lh__q_js(o, "previous_version")) {
            tprintf(q, "       roll back to ");
            tsgr(q, "1;32");
            tput(q, lh__q_js(o, "previous_version"), 0);
            tsgr(q, "0");
            tprintf(q, "\n");
        }
        lh__q_text_change(q, o, "       ");
        if (json_is_true(json_object_get(o, "expired")))
            tprintf(q, "       change events: expired (past the store's retention)\n");
        else if (i < q->n_changes) {
            const qlist_t *l = &q->changes[i];
            tprintf(q, "       change events (%zu)\n", l->n);
            widths_t w = widths_of(l->ev, l->n);
            for (size_t k = 0; k < l->n; k++) {
                tprintf(q, "       ");
                tevent(q, l->ev[k], w);
                tprintf(q, "\n");
            }
        }
        tsuspect_tickets(q, o, "       ");
    }

    tprintf(q, "\nother alerts on ");
    tput(q, lh__q_js(d, "service"), 0);
    tprintf(q, "/");
    tput(q, lh__q_js(d, "environment"), 0);
    tprintf(q, " and its hosts (%zu), ", q->others.n);
    tput(q, lh__q_js(d, "other_alerts_from"), 0);
    tprintf(q, " to ");
    tput(q, lh__q_js(d, "other_alerts_to"), 0);
    tprintf(q, "\n");
    widths_t w = widths_of(q->others.ev, q->others.n);
    for (size_t i = 0; i < q->others.n; i++) {
        tevent(q, q->others.ev[i], w);
        if (q->others.ev[i]->n_hosts) {
            tprintf(q, "  on");
            for (size_t h = 0; h < q->others.ev[i]->n_hosts; h++) {
                tprintf(q, " ");
                tput(q, q->others.ev[i]->hosts[h], 0);
            }
        }
        tprintf(q, "\n");
    }

    json_t *al = json_object_get(d, "alerts");
    tprintf(q, "\nalerts sent (%zu)\n", json_array_size(al));
    for (size_t i = 0; i < json_array_size(al); i++) {
        json_t *o = json_array_get(al, i);
        tprintf(q, "  #%-5lld ", (long long)lh__q_ji(o, "seq"));
        tsecs(q, lh__q_js(o, "created"));
        tprintf(q, "  ");
        tput(q, lh__q_js(o, "id"), 0);
        tprintf(q, "  revision %lld  ", (long long)lh__q_ji(o, "revision"));
        tput(q, lh__q_js(o, "kind"), 0);
        if (lh__q_js(o, "top")) {
            tprintf(q, "  top ");
            tput(q, lh__q_js(o, "top"), 0);
        }
        if (lh__q_js(o, "rollback_version")) {
            tprintf(q, "  roll back to ");
            tput(q, lh__q_js(o, "rollback_version"), 0);
        }
        if (json_is_true(json_object_get(o, "resolved")))
            tprintf(q, "  [resolved]");
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, "  [late]");
        if (json_is_true(json_object_get(o, "unreadable")))
            tprintf(q, "  (payload unreadable; see the log)");
        tprintf(q, "\n");
        json_t *ch = json_object_get(o, "changes");
        for (size_t k = 0; k < json_array_size(ch); k++) {
            tprintf(q, "       - ");
            tput(q, json_string_value(json_array_get(ch, k)), 0);
            tprintf(q, "\n");
        }
    }
    ttickets(q, lh__q_js(d, "ticket"), "incident");
}

void
lh__q_text_deploy(qctx_t *q)
{
    json_t *d = q->doc;
    tprintf(q, "change ");
    tput(q, lh__q_js(d, "deploy_id"), 0);
    tprintf(q, "  ");
    tput(q, lh__q_js(d, "service"), 0);
    tprintf(q, "/");
    tput(q, lh__q_js(d, "environment"), 0);
    tprintf(q, "  ");
    tversion(q, d);
    tprintf(q, "\n  outcome class  ");
    tclass(q, lh__q_js(d, "class"));
    tprintf(q, "\n  status         ");
    tput(q, lh__q_js(d, "status"), 0);
    tprintf(q, "\n  changed        ");
    tput(q, lh__q_js(d, "change_time"), 0);
    tprintf(q, "  (window ");
    tput(q, lh__q_js(d, "window"), 0);
    tprintf(q, ", until ");
    tput(q, lh__q_js(d, "window_ends"), 0);
    tprintf(q, ")\n");
    lh__q_text_change(q, d, "  ");
    if (lh__q_js(d, "change_ticket")) {
        tprintf(q, "  change ticket  ");
        tput(q, lh__q_js(d, "change_ticket"), 0);
        tprintf(q, "\n");
    }
    tevents(q, "events", &q->events, lh__q_shown_of(q, &q->events));

    json_t *outs = json_object_get(d, "outcomes");
    tprintf(q, "\noutcomes (%zu)\n", json_array_size(outs));
    widths_t w = widths_of(q->outcomes.ev, q->outcomes.n);
    for (size_t i = 0; i < json_array_size(outs) && i < q->outcomes.n; i++) {
        json_t *o = json_array_get(outs, i);
        tevent(q, q->outcomes.ev[i], w);
        tprintf(q, "\n       suspect #%lld of %lld, score %.2f, ", (long long)lh__q_ji(o, "rank"),
                (long long)lh__q_ji(o, "suspects"), json_real_value(json_object_get(o, "score")));
        tdur(q, lh__q_ji(o, "lead_seconds") * LH_NS_PER_SEC);
        tprintf(q, " after the change");
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, " [late]");
        if (json_object_get(o, "alert_seq") && !json_is_null(json_object_get(o, "alert_seq")))
            tprintf(q, ", alert seq %lld", (long long)lh__q_ji(o, "alert_seq"));
        if (lh__q_js(o, "resolved")) {
            tprintf(q, ", resolved ");
            tput(q, lh__q_js(o, "resolved"), 0);
        }
        tprintf(q, "\n");
        treasons(q, o, "       ");
    }
    ttickets(q, lh__q_js(d, "change_ticket"), "change");
}

void
lh__q_text_service(qctx_t *q)
{
    json_t *d = q->doc;
    tput(q, lh__q_js(d, "service"), 0);
    tprintf(q, "/");
    tput(q, lh__q_js(d, "environment"), 0);
    tprintf(q, "  from ");
    tput(q, lh__q_js(d, "from"), 0);
    tprintf(q, " until ");
    tput(q, lh__q_js(d, "to"), 0);
    if (lh__q_js(d, "since")) {
        tprintf(q, " (last ");
        tput(q, lh__q_js(d, "since"), 0);
        tprintf(q, ")");
    }
    tprintf(q, "\n");
    tevents(q, "events", &q->events, lh__q_shown_of(q, &q->events));
    json_t *al = json_object_get(d, "alerts");
    tprintf(q, "\ncorrelated alerts (%zu)\n", json_array_size(al));
    for (size_t i = 0; i < json_array_size(al); i++) {
        json_t *o = json_array_get(al, i);
        tprintf(q, "  #%-5lld ", (long long)lh__q_ji(o, "seq"));
        tsecs(q, lh__q_js(o, "created"));
        tprintf(q, "  ");
        tput(q, lh__q_js(o, "kind"), 0);
        tprintf(q, "  outcome ");
        tput(q, lh__q_js(o, "outcome_id"), 0);
        json_t *sus = json_object_get(o, "suspects");
        for (size_t k = 0; k < json_array_size(sus); k++) {
            json_t *x = json_array_get(sus, k);
            tprintf(q, k ? ", " : "  suspects ");
            tput(q, lh__q_js(x, "deploy_id"), 0);
            if (lh__q_js(x, "version")) {
                tprintf(q, " (");
                tput(q, lh__q_js(x, "version"), 0);
                tprev_json(q, x);
                tprintf(q, ")");
            }
        }
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, "  [late]");
        tprintf(q, "\n");
    }
}

void
lh__q_text_expired(qctx_t *q)
{
    json_t *o = json_object_get(q->doc, "expired_before");
    const char *kind;
    json_t *v;
    if (!o)
        return;
    const char *sep = "";
    tprintf(q, "\nexpired (the store's retention deleted older events):");
    json_object_foreach(o, kind, v)
    {
        tprintf(q, "%s %ss before ", sep, kind);
        tput(q, json_string_value(v), 0);
        sep = ";";
    }
    tprintf(q, "\n");
}

/* --- fitting the text in its width ----------------------------------------------------------- */

/* The columns of s[0..n) on a terminal: UTF-8 continuation bytes and ANSI SGR sequences
 * (ESC [ ... m) take none. */
static size_t
columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\033' && i + 1 < n && s[i + 1] == '[') {
            while (i < n && s[i] != 'm')
                i++;
            continue;
        }
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    }
    return c;
}

/* The byte offset in s[0..n) after `cols` columns (or n). */
static size_t
offset_of(const char *s, size_t n, size_t cols)
{
    size_t c = 0, i = 0;
    for (; i < n; i++) {
        if (s[i] == '\033' && i + 1 < n && s[i + 1] == '[') {
            while (i < n && s[i] != 'm')
                i++;
            continue;
        }
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (c == cols)
                return i;
            c++;
        }
    }
    return n;
}

int
lh__q_text_fit(lh_buf_t *out, size_t from, int width)
{
    if (!out->data || out->len <= from)
        return 0;
    lh_buf_t b = LH_BUF_INIT;
    const char *s = (const char *)out->data + from, *end = (const char *)out->data + out->len;
    int rc = 0;
    while (s < end && rc == 0) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        size_t lead = 0;
        while (lead < n && s[lead] == ' ')
            lead++;
        size_t indent = lead + 4 < (size_t)width / 2 ? lead + 4 : lead;
        int first = 1;
        while (rc == 0 && columns(s, n) + (first ? 0 : indent) > (size_t)width) {
            size_t room = (size_t)width - (first ? 0 : indent);
            size_t cut = offset_of(s, n, room), sp = cut;
            while (sp > lead && s[sp] != ' ')
                sp--;
            if (sp <= lead || (!first && sp == 0))
                break; /* one word longer than the line: left as it is */
            if (!first)
                for (size_t k = 0; k < indent && rc == 0; k++)
                    rc = lh_buf_append(&b, " ", 1);
            size_t keep = sp;
            while (keep > 0 && s[keep - 1] == ' ')
                keep--;
            if (rc == 0)
                rc = lh_buf_append(&b, s, keep);
            if (rc == 0)
                rc = lh_buf_append(&b, "\n", 1);
            while (sp < n && s[sp] == ' ')
                sp++;
            s += sp;
            n -= sp;
            first = 0;
        }
        if (!first)
            for (size_t k = 0; k < indent && rc == 0; k++)
                rc = lh_buf_append(&b, " ", 1);
        if (rc == 0)
            rc = lh_buf_append(&b, s, n);
        if (rc == 0 && nl)
            rc = lh_buf_append(&b, "\n", 1);
        s += n + (nl ? 1 : 0);
    }
    if (rc == 0) {
        out->len = from;
        rc = lh_buf_append(out, b.data ? b.data : (const void *)"", b.len);
    }
    lh_buf_free(&b);
    return rc < 0 ? LH_ENOMEM : 0;
}
