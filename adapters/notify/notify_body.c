/*
 * notify_body.c - what the notification sinks post for one correlated alert, as each receiver
 * documents its input (notify_body.h):
 *
 * - webhook: the alert as loophub JSON or a structured CloudEvent (the codec's encodings);
 * - alertmanager: Alertmanager's POST /api/v2/alerts body (api/v2/openapi.yaml, postableAlerts):
 *   an array of one postableAlert. labels are the alert's identity and routing keys (alertname by
 *   kind, service, environment, severity, the top suspect, the rollback target, loophub_alert_id
 *   so every revision of one alert is one Alertmanager alert) plus the sink's static labels;
 *   annotations carry the words (summary, description, loophub_url, revision). startsAt is the
 *   first outcome's time (the same in every revision); endsAt the resolution, or now + 4 x resend
 * for an open alert, so an alert the hub stops re-sending expires on its own; never before startsAt
 * (Alertmanager refuses that);
 * - slack: an incoming webhook message in Block Kit, within its documented limits (header 150
 *   characters, section text 3000, button url 3000, at most 50 blocks), mrkdwn text escaped
 *   (&, <, > as &amp; &lt; &gt;, Slack's "Escaping text");
 * - pagerduty: an Events API v2 alert event (POST /v2/enqueue): trigger with a payload (summary at
 *   most 1024 characters), or a resolve that carries only routing_key, event_action and
 *   dedup_key (the alert id: every revision updates one PagerDuty alert).
 *
 * Invariants: every string put in a body is valid UTF-8 (invalid bytes become U+FFFD), limits
 * are counted in characters (code points) and a cut text ends with "…"; a cut never splits a
 * character or an HTML entity. Every allocation here goes through jansson's allocator
 * (json_get_alloc_funcs), so a test that makes it fail reaches each out-of-memory path; on any
 * failure out is left as it was.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "notify_body.h"

#define DEFAULT_RESEND_NS (60 * LH_NS_PER_SEC)
#define SLACK_HEADER_MAX 150
#define SLACK_TEXT_MAX 3000
#define SLACK_URL_MAX 3000
#define SLACK_MAX_BLOCKS 50
#define SLACK_MAX_SUSPECTS 5
#define PD_SUMMARY_MAX 1024
#define PD_DEDUP_MAX 255
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, one character */

/* --- text ------------------------------------------------------------------------------------ */

/* A growing NUL-terminated string. rc keeps the first failure (LH_ENOMEM): appends after one are
 * no-ops, so a text is built in a row of calls and checked once. md: strings appended with
 * txt_str() are escaped for Slack's mrkdwn. */
typedef struct {
    char *s;
    size_t len, cap;
    int rc;
    int md;
} txt_t;

static void
txt_free(txt_t *t)
{
    if (t->s) {
        json_malloc_t m;
        json_free_t f;
        json_get_alloc_funcs(&m, &f);
        f(t->s);
    }
    t->s = NULL;
    t->len = t->cap = 0;
}

static int
txt_reserve(txt_t *t, size_t extra)
{
    if (t->rc)
        return t->rc;
    if (t->len + extra + 1 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 128;
    while (cap < t->len + extra + 1)
        cap *= 2;
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    char *p = m(cap);
    if (!p)
        return t->rc = LH_ENOMEM;
    if (t->len)
        memcpy(p, t->s, t->len);
    p[t->len] = '\0';
    if (t->s)
        f(t->s);
    t->s = p;
    t->cap = cap;
    return 0;
}

static void
txt_raw(txt_t *t, const char *p, size_t n)
{
    if (txt_reserve(t, n))
        return;
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

/* Trusted text: literals and numbers, never a field of the alert. */
__attribute__((format(printf, 2, 3))) static void
txt_printf(txt_t *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        txt_raw(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 when it is not one (overlong
 * forms, surrogates and code points past U+10FFFF are not). */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t k;
    unsigned min;
    unsigned c;
    if ((s[0] & 0xe0) == 0xc0) {
        k = 2, min = 0x80, c = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        k = 3, min = 0x800, c = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        k = 4, min = 0x10000, c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return k;
}

/* A field of the alert: invalid UTF-8 bytes become U+FFFD; in md mode &, < and > become the
 * entities Slack documents. NULL appends nothing. */
static void
txt_str(txt_t *t, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n && !t->rc;) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k) {
            txt_raw(t, "\xef\xbf\xbd", 3);
            i++;
        } else if (t->md && p[i] == '&') {
            txt_raw(t, "&amp;", 5), i++;
        } else if (t->md && p[i] == '<') {
            txt_raw(t, "&lt;", 4), i++;
        } else if (t->md && p[i] == '>') {
            txt_raw(t, "&gt;", 4), i++;
        } else {
            txt_raw(t, s + i, k);
            i += k;
        }
    }
}

/* Characters (code points) of valid UTF-8 text. */
static size_t
utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Holds the text from byte from to the end to max characters: a longer one is cut to max - 1
 * and ends with "…". The cut falls between characters, and (md) not inside an entity. */
static void
txt_cut(txt_t *t, size_t from, size_t max)
{
    if (t->rc || utf8_chars(t->s + from, t->len - from) <= max)
        return;
    size_t p = from, c = 0;
    while (p < t->len) {
        if (((unsigned char)t->s[p] & 0xc0) != 0x80 && c++ == max - 1)
            break;
        p++;
    }
    if (t->md) {
        /* an entity is at most 5 bytes ("&amp;"): a '&' in the 4 before the cut without its
         * ';' is the start of one cut in half */
        for (size_t q = p; q > from && p - q < 5; q--) {
            if (t->s[q - 1] == ';')
                break;
            if (t->s[q - 1] == '&') {
                p = q - 1;
                break;
            }
        }
    }
    t->len = p;
    t->s[p] = '\0';
    txt_raw(t, ELLIPSIS, sizeof(ELLIPSIS) - 1);
}

/* --- JSON ------------------------------------------------------------------------------------ */

/* A JSON string of a field (cleaned like txt_str, never escaped), or NULL on out of memory. */
static json_t *
jstr(const char *s)
{
    txt_t t = {0};
    txt_str(&t, s);
    txt_raw(&t, "", 0);
    json_t *j = t.rc ? NULL : json_stringn(t.s, t.len);
    txt_free(&t);
    return j;
}

/* The JSON string of a built text (freed), NULL when it failed or is out of memory. */
static json_t *
jtxt(txt_t *t)
{
    txt_raw(t, "", 0);
    json_t *j = t->rc ? NULL : json_stringn(t->s, t->len);
    txt_free(t);
    return j;
}

/* Sets obj[key] = v, taking v; a NULL v or a failed set is LH_ENOMEM in *rc (the first kept). */
static void
set_new(json_t *obj, const char *key, json_t *v, int *rc)
{
    if (json_object_set_new(obj, key, v) && *rc == 0)
        *rc = LH_ENOMEM;
}

/* obj[key] = s, when s is set and not "". */
static void
set_str(json_t *obj, const char *key, const char *s, int *rc)
{
    if (s && *s)
        set_new(obj, key, jstr(s), rc);
}

static void
push_new(json_t *arr, json_t *v, int *rc)
{
    if (json_array_append_new(arr, v) && *rc == 0)
        *rc = LH_ENOMEM;
}

/* As set_new and push_new for a container the caller goes on filling: the caller keeps its
 * reference (a failed set must not free what is still used) and drops it when done. */
static void
set_ref(json_t *obj, const char *key, json_t *child, int *rc)
{
    if (json_object_set(obj, key, child) && *rc == 0)
        *rc = LH_ENOMEM;
}

static void
push_ref(json_t *arr, json_t *child, int *rc)
{
    if (json_array_append(arr, child) && *rc == 0)
        *rc = LH_ENOMEM;
}

/* Appends the compact form of root (taken) to out. */
static int
dump(json_t *root, int rc, lh_buf_t *out)
{
    char *s = NULL;
    if (rc == 0 && !(s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(10))))
        rc = LH_ENOMEM;
    json_decref(root);
    if (rc == 0)
        rc = lh_buf_append(out, s, strlen(s));
    if (s) {
        json_malloc_t m;
        json_free_t f;
        json_get_alloc_funcs(&m, &f);
        f(s);
    }
    return rc;
}

/* --- what every body says -------------------------------------------------------------------- */

/* The facts of one alert the bodies share. */
typedef struct {
    const lh_correlated_t *ca;
    const lh_notify_body_opts_t *o;
    const lh_event_t *ev; /* the outcome event, or NULL */
    const lh_suspect_t *top;
    const char *what;  /* "incident", "alert", "unapproved change", "outcome" */
    const char *oid;   /* the incident id, the alert name, the change's deploy id */
    const char *title; /* the incident title, the alert summary */
    lh_severity_t sev;
    int64_t start_ns, end_ns;
    char start[40], end[40];
    txt_t url; /* hub_url/incident?id=..., empty without a hub_url */
} facts_t;

static lh_severity_t
outcome_severity(const lh_event_t *ev)
{
    if (ev && ev->kind == LH_KIND_INCIDENT)
        return ev->incident.severity;
    if (ev && ev->kind == LH_KIND_ALERT)
        return ev->alert.severity;
    return LH_SEV_UNSPECIFIED;
}

/* The id /incident?id= opens: an incident's id (the outcome's ref), else the alert's own id (the
 * timeline opens every outcome of an alert by it; a monitoring alert's fingerprint it does not
 * take). */
static const char *
link_id(const lh_correlated_t *ca)
{
    if (ca->n_outcomes && ca->outcomes[0].kind == LH_KIND_INCIDENT && ca->outcomes[0].ref &&
        *ca->outcomes[0].ref)
        return ca->outcomes[0].ref;
    const lh_event_t *ev = ca->outcome;
    if (ev && ev->kind == LH_KIND_INCIDENT && ev->incident.incident_id)
        return ev->incident.incident_id;
    if (ca->id && *ca->id)
        return ca->id;
    return ev ? ev->id : NULL;
}

static void
url_build(txt_t *u, const char *hub, const char *id)
{
    size_t n = strlen(hub);
    while (n && hub[n - 1] == '/')
        n--;
    txt_t h = {0};
    txt_raw(&h, hub, n);
    txt_str(u, h.rc ? NULL : h.s);
    if (h.rc)
        u->rc = h.rc;
    txt_free(&h);
    txt_raw(u, "/incident?id=", 13);
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)(id ? id : ""); *p; p++) {
        char c = (char)*p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c)) {
            txt_raw(u, &c, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            txt_raw(u, e, 3);
        }
    }
}

static int
facts_init(facts_t *f, const lh_correlated_t *ca, const lh_notify_body_opts_t *o)
{
    memset(f, 0, sizeof(*f));
    f->ca = ca;
    f->o = o;
    f->ev = ca->outcome;
    f->top = ca->n_suspects ? &ca->suspects[0] : NULL;
    const lh_event_t *ev = f->ev;
    const lh_ca_outcome_t *first = ca->n_outcomes ? &ca->outcomes[0] : NULL;
    f->what = "outcome";
    if (ca->kind == LH_CA_UNAPPROVED_CHANGE) {
        f->what = "unapproved change";
        f->oid = f->top && f->top->deploy_id ? f->top->deploy_id : ev ? ev->deploy.deploy_id : NULL;
    } else if (ev && ev->kind == LH_KIND_INCIDENT) {
        f->what = "incident";
        f->oid = ev->incident.incident_id ? ev->incident.incident_id : ev->id;
        f->title = ev->incident.title;
    } else if (ev && ev->kind == LH_KIND_ALERT) {
        f->what = "alert";
        f->oid = ev->alert.name ? ev->alert.name : ev->id;
        f->title = ev->alert.summary;
    } else if (first) {
        f->what = first->kind == LH_KIND_ALERT ? "alert" : "incident";
        f->oid = first->ref;
        f->title = first->title;
    }
    if (!f->title && first && first->title && f->oid && strcmp(first->title, f->oid))
        f->title = first->title;
    f->sev = outcome_severity(ev);
    /* the case's first outcome: every revision starts where the first did (this revision's own
     * event may be the resolution) */
    f->start_ns = first && first->time_ns ? first->time_ns
                  : ev && ev->time_ns     ? ev->time_ns
                  : ca->created_ns        ? ca->created_ns
                                          : o->now_ns;
    if (ca->resolved) {
        f->end_ns = ca->resolved_ns ? ca->resolved_ns : o->now_ns;
    } else {
        int64_t resend = o->resend_ns > 0 ? o->resend_ns : DEFAULT_RESEND_NS;
        f->end_ns = resend > (INT64_MAX - (o->now_ns > 0 ? o->now_ns : 0)) / 4
                        ? INT64_MAX /* a resend that long: the alert never expires */
                        : o->now_ns + 4 * resend;
    }
    if (f->end_ns < f->start_ns) /* Alertmanager refuses an end before the start */
        f->end_ns = f->start_ns;
    /* 40 bytes hold any int64 time (the format needs at most 36) */
    lh_time_format(f->start_ns, f->start, sizeof(f->start));
    lh_time_format(f->end_ns, f->end, sizeof(f->end));
    if (o->hub_url && *o->hub_url) {
        url_build(&f->url, o->hub_url, link_id(ca));
        txt_raw(&f->url, "", 0);
        if (f->url.rc)
            return f->url.rc;
    }
    return 0;
}

static const char *
facts_url(const facts_t *f)
{
    return f->url.len ? f->url.s : NULL;
}

static const char *
kind_title(lh_ca_kind_t k)
{
    switch (k) {
    case LH_CA_DEPLOY_PRECEDED_INCIDENT:
        return "Deploy preceded incident";
    case LH_CA_DEPLOY_PRECEDED_ALERT:
        return "Deploy preceded alert";
    case LH_CA_UNAPPROVED_CHANGE:
        return "Unapproved change";
    case LH_CA_UNSPECIFIED:
        break;
    }
    return "Correlated alert";
}

static const char *
alertname(lh_ca_kind_t k)
{
    switch (k) {
    case LH_CA_DEPLOY_PRECEDED_INCIDENT:
        return "DeployPrecededIncident";
    case LH_CA_DEPLOY_PRECEDED_ALERT:
        return "DeployPrecededAlert";
    case LH_CA_UNAPPROVED_CHANGE:
        return "UnapprovedChange";
    case LH_CA_UNSPECIFIED:
        break;
    }
    return "CorrelatedAlert";
}

/* "api/prod", "api", "prod" or "?". */
static void
where(txt_t *t, const lh_correlated_t *ca)
{
    const char *s = ca->service && *ca->service ? ca->service : NULL;
    const char *e = ca->environment && *ca->environment ? ca->environment : NULL;
    txt_str(t, s);
    if (s && e)
        txt_raw(t, "/", 1);
    txt_str(t, e);
    if (!s && !e)
        txt_raw(t, "?", 1);
}

/* "deploy D-1 of api 1.4.2 by alice" */
static void
change_words(txt_t *t, const lh_suspect_t *s)
{
    txt_str(t, s->deploy_id ? s->deploy_id : "?");
    if (s->service) {
        txt_printf(t, " of ");
        txt_str(t, s->service);
    }
    if (s->version) {
        txt_printf(t, " ");
        txt_str(t, s->version);
    }
    if (s->actor) {
        txt_printf(t, " by ");
        txt_str(t, s->actor);
    }
}

/* The one line: what happened after which deploy. */
static void
summary_line(txt_t *t, const facts_t *f)
{
    const lh_correlated_t *ca = f->ca;
    if (ca->resolved)
        txt_printf(t, "Resolved: ");
    txt_printf(t, "%s", f->what);
    if (f->oid) {
        txt_printf(t, " ");
        txt_str(t, f->oid);
    }
    txt_printf(t, " in ");
    where(t, ca);
    const char *sev = lh_severity_name(f->sev);
    if (sev)
        txt_printf(t, " (%s)", sev);
    if (f->title) {
        txt_printf(t, ": ");
        txt_str(t, f->title);
    }
    if (!f->top) {
        txt_printf(t, ", no suspect change");
        return;
    }
    if (ca->kind == LH_CA_UNAPPROVED_CHANGE) {
        txt_printf(t, ", change ");
        change_words(t, f->top);
        txt_printf(t, " without an approved ticket");
        return;
    }
    char lead[32];
    if (f->top->lead_seconds > 0 &&
        lh_duration_human(f->top->lead_seconds * LH_NS_PER_SEC, lead, sizeof(lead)) > 0)
        txt_printf(t, ", %s after deploy ", lead);
    else
        txt_printf(t, ", after deploy ");
    change_words(t, f->top);
}

/* Suspect i (from 0) in words; md: Slack's mrkdwn with a bullet list of reasons. */
static void
suspect_words(txt_t *t, const lh_correlated_t *ca, size_t i)
{
    const lh_suspect_t *s = &ca->suspects[i];
    int unapproved = ca->kind == LH_CA_UNAPPROVED_CHANGE;
    if (t->md)
        txt_printf(t, "*%zu.* %s *", i + 1, unapproved ? "change" : "deploy");
    else
        txt_printf(t, "%zu. %s ", i + 1, unapproved ? "change" : "deploy");
    txt_str(t, s->deploy_id ? s->deploy_id : "?");
    if (t->md)
        txt_printf(t, "*");
    if (s->service) {
        txt_printf(t, " of ");
        txt_str(t, s->service);
    }
    if (s->version) {
        txt_printf(t, t->md ? " `" : " ");
        txt_str(t, s->version);
        if (t->md)
            txt_printf(t, "`");
    }
    if (s->actor) {
        txt_printf(t, " by ");
        txt_str(t, s->actor);
    }
    char lead[32];
    if (!unapproved && s->lead_seconds > 0 &&
        lh_duration_human(s->lead_seconds * LH_NS_PER_SEC, lead, sizeof(lead)) > 0)
        txt_printf(t, ", %s before", lead);
    if (!unapproved)
        txt_printf(t, ", score %.2f", s->score);
    if (s->previous_version) {
        txt_printf(t, ", replaced ");
        txt_str(t, s->previous_version);
    }
    for (size_t r = 0; r < s->n_reasons; r++) {
        txt_printf(t, t->md ? "\n\xe2\x80\xa2 " : "\n   - ");
        txt_str(t, s->reasons[r]);
    }
}

/* The service ca->rollback_version is for: the top suspect's. */
static const char *
top_service(const lh_correlated_t *ca)
{
    if (ca->n_suspects && ca->suspects[0].service)
        return ca->suspects[0].service;
    return ca->service ? ca->service : "?";
}

/* The rollback targets, one line each. */
static void
rollback_words(txt_t *t, const lh_correlated_t *ca)
{
    for (size_t i = 0; i < ca->n_rollbacks; i++) {
        const lh_rollback_t *r = &ca->rollbacks[i];
        if (i)
            txt_raw(t, "\n", 1);
        if (r->version) {
            txt_printf(t, "roll back ");
            txt_str(t, r->service ? r->service : "?");
            txt_printf(t, t->md ? " to `" : " to ");
            txt_str(t, r->version);
            txt_printf(t, "%s%s", t->md ? "`" : "", r->derived ? " (from history)" : "");
        } else {
            txt_printf(t, "no known good version of ");
            txt_str(t, r->service ? r->service : "?");
            if (r->from_version) {
                txt_printf(t, " before ");
                txt_str(t, r->from_version);
            }
        }
    }
    if (!ca->n_rollbacks && ca->rollback_version) {
        txt_printf(t, "roll back ");
        txt_str(t, top_service(ca));
        txt_printf(t, t->md ? " to `" : " to ");
        txt_str(t, ca->rollback_version);
        if (t->md)
            txt_printf(t, "`");
    }
}

/* "revision 3: a second incident joined; every outcome resolved" (nothing for revision 1). */
static void
revision_words(txt_t *t, const lh_correlated_t *ca)
{
    if (ca->revision <= 1 && !ca->n_changes)
        return;
    txt_printf(t, "revision %lu", (unsigned long)ca->revision);
    for (size_t i = 0; i < ca->n_changes; i++) {
        txt_printf(t, "%s", i ? "; " : ": ");
        txt_str(t, ca->changes[i]);
    }
}

/* "and 3 more changes in the window": the suspects left out of a message (hidden) and those
 * the alert itself leaves out. */
static void
more_words(txt_t *t, size_t hidden, const lh_correlated_t *ca)
{
    unsigned long n = (unsigned long)hidden + ca->more_suspects;
    if (n)
        txt_printf(t, "and %lu more change%s in the window", n, n == 1 ? "" : "s");
}

/* The ranked suspects with their reasons, the rollback target, the revision: plain text. */
static void
description(txt_t *t, const facts_t *f)
{
    const lh_correlated_t *ca = f->ca;
    if (ca->n_suspects)
        txt_printf(t, ca->kind == LH_CA_UNAPPROVED_CHANGE ? "The change:\n"
                                                          : "Suspects, most likely first:\n");
    else
        txt_printf(t, "No suspect change in the window.\n");
    for (size_t i = 0; i < ca->n_suspects; i++) {
        suspect_words(t, ca, i);
        txt_raw(t, "\n", 1);
    }
    if (ca->more_suspects) {
        more_words(t, 0, ca);
        txt_raw(t, "\n", 1);
    }
    size_t at = t->len;
    rollback_words(t, ca);
    if (t->len > at)
        txt_raw(t, "\n", 1);
    at = t->len;
    revision_words(t, ca);
    if (t->len > at)
        txt_raw(t, "\n", 1);
    if (ca->late)
        txt_printf(t, "(late: the deploy arrived after the %s)\n", f->what);
    while (!t->rc && t->len && t->s[t->len - 1] == '\n')
        t->s[--t->len] = '\0';
}

/* --- Alertmanager ---------------------------------------------------------------------------- */

static const char *const am_own_labels[] = {
    "alertname",      "service",         "environment",      "severity",
    "suspect_deploy", "suspect_version", "rollback_version", "loophub_alert_id",
};

/* A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]* (what Alertmanager's validation takes). */
static int
label_name_ok(const char *s, size_t n)
{
    if (!n || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

__attribute__((format(printf, 3, 4))) static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return LH_EINVAL;
}

/* The static labels: each "name=value" with a valid name not one of loophub's own. */
static int
am_check_labels(const lh_notify_body_opts_t *o, char *why, size_t whylen)
{
    for (size_t i = 0; i < o->n_labels; i++) {
        const char *l = o->labels ? o->labels[i] : NULL;
        const char *eq = l ? strchr(l, '=') : NULL;
        if (!eq)
            return fail(why, whylen, "alertmanager: label %zu (\"%.64s\") is not name=value", i,
                        l ? l : "(null)");
        size_t n = (size_t)(eq - l);
        if (!label_name_ok(l, n))
            return fail(why, whylen,
                        "alertmanager: label name \"%.*s\" is not [a-zA-Z_][a-zA-Z0-9_]*",
                        (int)(n < 64 ? n : 64), l);
        for (size_t k = 0; k < sizeof(am_own_labels) / sizeof(am_own_labels[0]); k++) {
            if (strlen(am_own_labels[k]) == n && !memcmp(am_own_labels[k], l, n))
                return fail(why, whylen, "alertmanager: label \"%s\" is set by loophub",
                            am_own_labels[k]);
        }
    }
    return 0;
}

static json_t *
body_alertmanager(const facts_t *f, int *rc)
{
    const lh_correlated_t *ca = f->ca;
    const lh_notify_body_opts_t *o = f->o;
    json_t *arr = json_array(), *a = json_object(), *labels = json_object(), *ann = json_object();
    if (!arr || !a || !labels || !ann) {
        *rc = LH_ENOMEM;
        json_decref(arr), json_decref(a), json_decref(labels), json_decref(ann);
        return NULL;
    }
    push_ref(arr, a, rc);
    set_ref(a, "labels", labels, rc);
    set_ref(a, "annotations", ann, rc);

    set_str(labels, "alertname", alertname(ca->kind), rc);
    set_str(labels, "service", ca->service, rc);
    set_str(labels, "environment", ca->environment, rc);
    set_str(labels, "severity", lh_severity_name(f->sev), rc);
    if (f->top) {
        set_str(labels, "suspect_deploy", f->top->deploy_id, rc);
        set_str(labels, "suspect_version", f->top->version, rc);
    }
    set_str(labels, "rollback_version", ca->rollback_version, rc);
    set_str(labels, "loophub_alert_id", ca->id, rc);
    for (size_t i = 0; i < o->n_labels; i++) {
        const char *l = o->labels[i], *eq = strchr(l, '='); /* checked: am_check_labels() */
        if (eq[1] && json_object_setn_new(labels, l, (size_t)(eq - l), jstr(eq + 1)) && !*rc)
            *rc = LH_ENOMEM; /* an empty value: no label (Alertmanager's rule) */
    }

    txt_t t = {0};
    summary_line(&t, f);
    set_new(ann, "summary", jtxt(&t), rc);
    description(&t, f);
    set_new(ann, "description", jtxt(&t), rc);
    set_str(ann, "loophub_url", facts_url(f), rc);
    txt_printf(&t, "%lu", (unsigned long)ca->revision);
    set_new(ann, "revision", jtxt(&t), rc);

    set_new(a, "startsAt", json_string(f->start), rc);
    set_new(a, "endsAt", json_string(f->end), rc);
    set_str(a, "generatorURL", facts_url(f), rc);
    json_decref(a), json_decref(labels), json_decref(ann);
    return arr;
}

/* --- Slack ----------------------------------------------------------------------------------- */

/* {"type": type, "text": t} as a text object; t is freed. */
static json_t *
slack_text(const char *type, txt_t *t, int *rc)
{
    json_t *o = json_object();
    if (!o) {
        txt_free(t);
        *rc = LH_ENOMEM;
        return NULL;
    }
    set_new(o, "type", json_string(type), rc);
    set_new(o, "text", jtxt(t), rc);
    return o;
}

/* Appends a block {"type": type, key: text object of t} to blocks (t is freed). */
static void
slack_block(json_t *blocks, const char *type, const char *key, const char *ttype, txt_t *t, int *rc)
{
    if (json_array_size(blocks) >= SLACK_MAX_BLOCKS) { /* not reached: at most 10 are made */
        txt_free(t);
        return;
    }
    json_t *b = json_object();
    if (!b) {
        txt_free(t);
        *rc = LH_ENOMEM;
        return;
    }
    push_ref(blocks, b, rc);
    set_new(b, "type", json_string(type), rc);
    set_new(b, key, slack_text(ttype, t, rc), rc);
    json_decref(b);
}

static void
slack_section(json_t *blocks, txt_t *t, int *rc)
{
    txt_cut(t, 0, SLACK_TEXT_MAX);
    slack_block(blocks, "section", "text", "mrkdwn", t, rc);
}

static json_t *
body_slack(const facts_t *f, int *rc)
{
    const lh_correlated_t *ca = f->ca;
    json_t *msg = json_object(), *blocks = json_array();
    if (!msg || !blocks) {
        json_decref(msg), json_decref(blocks);
        *rc = LH_ENOMEM;
        return NULL;
    }
    set_ref(msg, "blocks", blocks, rc);
    txt_t t = {.md = 1};
    summary_line(&t, f);
    txt_cut(&t, 0, SLACK_TEXT_MAX);
    set_new(msg, "text", jtxt(&t), rc);

    /* header: plain text, no escaping */
    txt_t h = {0};
    txt_printf(&h, "%s%s: ", ca->resolved ? "Resolved: " : "", kind_title(ca->kind));
    where(&h, ca);
    txt_cut(&h, 0, SLACK_HEADER_MAX);
    slack_block(blocks, "header", "text", "plain_text", &h, rc);

    /* the outcome */
    t.md = 1;
    if (ca->resolved) {
        char end[40];
        txt_printf(&t, "*Resolved*");
        if (ca->resolved_ns && lh_time_format(ca->resolved_ns, end, sizeof(end)) > 0)
            txt_printf(&t, " at %s", end);
        txt_raw(&t, "\n", 1);
    }
    txt_printf(&t, "*Service:* ");
    txt_str(&t, ca->service ? ca->service : "?");
    txt_printf(&t, "\n*Environment:* ");
    txt_str(&t, ca->environment ? ca->environment : "?");
    txt_printf(&t, "\n*What:* %s", f->what);
    if (f->oid) {
        txt_printf(&t, " ");
        txt_str(&t, f->oid);
    }
    const char *sev = lh_severity_name(f->sev);
    if (sev)
        txt_printf(&t, " (%s)", sev);
    if (f->title) {
        txt_printf(&t, ": ");
        txt_str(&t, f->title);
    }
    txt_printf(&t, "\n*When:* %s", f->start);
    if (ca->revision > 1 || ca->n_changes) {
        txt_printf(&t, "\n_");
        revision_words(&t, ca);
        txt_printf(&t, "_");
    }
    if (ca->late)
        txt_printf(&t, "\n_late: the deploy arrived after the %s_", f->what);
    slack_section(blocks, &t, rc);

    /* the suspects, at most SLACK_MAX_SUSPECTS, then how many more */
    size_t shown = ca->n_suspects < SLACK_MAX_SUSPECTS ? ca->n_suspects : SLACK_MAX_SUSPECTS;
    for (size_t i = 0; i < shown; i++) {
        t.md = 1;
        suspect_words(&t, ca, i);
        slack_section(blocks, &t, rc);
    }
    t.md = 1;
    more_words(&t, ca->n_suspects - shown, ca);
    if (t.len)
        slack_section(blocks, &t, rc);
    else
        txt_free(&t);

    /* the rollback targets */
    t.md = 1;
    txt_printf(&t, "*Rollback*\n");
    size_t at = t.len;
    rollback_words(&t, ca);
    if (t.len > at)
        slack_section(blocks, &t, rc);
    else
        txt_free(&t);

    /* a button to the hub's page of the outcome */
    const char *url = facts_url(f);
    if (url && utf8_chars(url, strlen(url)) <= SLACK_URL_MAX &&
        json_array_size(blocks) < SLACK_MAX_BLOCKS) {
        json_t *b = json_object(), *els = json_array(), *btn = json_object();
        if (!b || !els || !btn) {
            json_decref(b), json_decref(els), json_decref(btn);
            json_decref(blocks);
            *rc = LH_ENOMEM;
            return msg;
        }
        push_ref(blocks, b, rc);
        set_new(b, "type", json_string("actions"), rc);
        set_ref(b, "elements", els, rc);
        push_ref(els, btn, rc);
        set_new(btn, "type", json_string("button"), rc);
        txt_printf(&t, "Open the timeline");
        set_new(btn, "text", slack_text("plain_text", &t, rc), rc);
        set_new(btn, "url", jstr(url), rc);
        set_new(btn, "action_id", json_string("loophub_timeline"), rc);
        json_decref(b), json_decref(els), json_decref(btn);
    }
    json_decref(blocks);
    return msg;
}

/* --- PagerDuty ------------------------------------------------------------------------------- */

static const char *
pd_severity(lh_severity_t s)
{
    switch (s) {
    case LH_SEV_CRITICAL:
        return "critical";
    case LH_SEV_WARNING:
        return "warning";
    case LH_SEV_INFO:
        return "info";
    case LH_SEV_ERROR:
    case LH_SEV_UNSPECIFIED:
        break;
    }
    return "error";
}

static json_t *
pd_strings(char *const *v, size_t n, int *rc)
{
    json_t *a = json_array();
    if (!a)
        *rc = LH_ENOMEM;
    for (size_t i = 0; a && i < n; i++)
        if (v[i] && *v[i])
            push_new(a, jstr(v[i]), rc);
    return a;
}

static json_t *
pd_details(const lh_correlated_t *ca, int *rc)
{
    json_t *d = json_object(), *sus = json_array();
    if (!d || !sus) {
        json_decref(d), json_decref(sus);
        *rc = LH_ENOMEM;
        return NULL;
    }
    set_ref(d, "suspects", sus, rc);
    for (size_t i = 0; i < ca->n_suspects && *rc == 0; i++) {
        const lh_suspect_t *s = &ca->suspects[i];
        json_t *j = json_object();
        push_ref(sus, j, rc);
        if (!j)
            break;
        set_str(j, "deploy_id", s->deploy_id, rc);
        set_str(j, "version", s->version, rc);
        set_str(j, "previous_version", s->previous_version, rc);
        set_str(j, "actor", s->actor, rc);
        set_new(j, "score", json_real(s->score), rc);
        set_new(j, "reasons", pd_strings(s->reasons, s->n_reasons, rc), rc);
        json_decref(j);
    }
    json_decref(sus);
    if (ca->more_suspects)
        set_new(d, "more_suspects", json_integer(ca->more_suspects), rc);
    set_str(d, "rollback_version", ca->rollback_version, rc);
    set_new(d, "revision", json_integer(ca->revision), rc);
    set_new(d, "changes", pd_strings(ca->changes, ca->n_changes, rc), rc);
    return d;
}

static json_t *
body_pagerduty(const facts_t *f, int *rc)
{
    const lh_correlated_t *ca = f->ca;
    json_t *ev = json_object();
    if (!ev) {
        *rc = LH_ENOMEM;
        return NULL;
    }
    set_str(ev, "routing_key", f->o->routing_key, rc);
    set_new(ev, "event_action", json_string(ca->resolved ? "resolve" : "trigger"), rc);
    set_str(ev, "dedup_key", ca->id, rc);
    if (ca->resolved) /* a resolve names the alert and nothing else */
        return ev;

    json_t *p = json_object();
    set_ref(ev, "payload", p, rc);
    if (!p)
        return ev;
    txt_t t = {0};
    summary_line(&t, f);
    txt_cut(&t, 0, PD_SUMMARY_MAX);
    set_new(p, "summary", jtxt(&t), rc);
    where(&t, ca);
    set_new(p, "source", jtxt(&t), rc);
    set_new(p, "severity", json_string(pd_severity(f->sev)), rc);
    set_new(p, "timestamp", json_string(f->start), rc);
    set_str(p, "component", ca->service, rc);
    set_str(p, "group", ca->environment, rc);
    set_str(p, "class", lh_ca_kind_name(ca->kind), rc);
    set_new(p, "custom_details", pd_details(ca, rc), rc);
    json_decref(p);
    set_new(ev, "client", json_string("loophub"), rc);
    const char *url = facts_url(f);
    if (url) {
        set_str(ev, "client_url", url, rc);
        json_t *links = json_array(), *l = json_object();
        set_ref(ev, "links", links, rc);
        push_ref(links, l, rc);
        if (l) {
            set_str(l, "href", url, rc);
            set_new(l, "text", json_string("loophub timeline"), rc);
        }
        json_decref(links), json_decref(l);
    }
    return ev;
}

/* --- the entry points ------------------------------------------------------------------------ */

static const char *const kind_names[] = {
    [LH_NOTIFY_WEBHOOK] = "webhook",
    [LH_NOTIFY_ALERTMANAGER] = "alertmanager",
    [LH_NOTIFY_SLACK] = "slack",
    [LH_NOTIFY_PAGERDUTY] = "pagerduty",
};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *
lh_notify_kind_name(lh_notify_kind_t k)
{
    return (unsigned)k < N_KINDS ? kind_names[k] : NULL;
}

int
lh_notify_kind_parse(const char *s, lh_notify_kind_t *out)
{
    for (size_t i = 0; s && i < N_KINDS; i++) {
        if (!strcasecmp(s, kind_names[i])) {
            *out = (lh_notify_kind_t)i;
            return 0;
        }
    }
    return LH_EINVAL;
}

const char *
lh_notify_content_type(lh_notify_kind_t kind, int cloudevents)
{
    if ((unsigned)kind >= N_KINDS)
        return NULL;
    return kind == LH_NOTIFY_WEBHOOK && cloudevents ? "application/cloudevents+json"
                                                    : "application/json";
}

int
lh_notify_body(lh_notify_kind_t kind, const lh_correlated_t *ca, const lh_notify_body_opts_t *o,
               lh_buf_t *out, char *why, size_t whylen)
{
    static const lh_notify_body_opts_t defaults = {0};
    if (why && whylen)
        why[0] = '\0';
    if (!ca || !out)
        return fail(why, whylen, "notify: no alert or no output buffer");
    if (!o)
        o = &defaults;
    if (kind == LH_NOTIFY_WEBHOOK) {
        size_t len = out->len;
        int rc =
            lh_codec_alert_encode(ca, o->cloudevents ? LH_ALERTS_CLOUDEVENTS : LH_ALERTS_JSON, out);
        if (rc) {
            out->len = len;
            if (rc == LH_EINVAL)
                fail(why, whylen, "webhook: the alert cannot be encoded");
        }
        return rc;
    }
    if ((unsigned)kind >= N_KINDS)
        return fail(why, whylen, "notify: unknown kind %d", (int)kind);
    if (kind == LH_NOTIFY_PAGERDUTY) {
        if (!o->routing_key || !*o->routing_key)
            return fail(why, whylen, "pagerduty: a routing key is required");
        if (!ca->id || !*ca->id)
            return fail(why, whylen, "pagerduty: the alert has no id for the dedup_key");
        if (utf8_chars(ca->id, strlen(ca->id)) > PD_DEDUP_MAX)
            return fail(why, whylen, "pagerduty: the alert id is longer than a dedup_key's %d",
                        PD_DEDUP_MAX);
    }
    if (kind == LH_NOTIFY_ALERTMANAGER) {
        int rc = am_check_labels(o, why, whylen);
        if (rc)
            return rc;
    }
    facts_t f;
    int rc = facts_init(&f, ca, o);
    if (rc) {
        txt_free(&f.url);
        return rc;
    }
    json_t *root = NULL;
    switch (kind) {
    case LH_NOTIFY_ALERTMANAGER:
        root = body_alertmanager(&f, &rc);
        break;
    case LH_NOTIFY_SLACK:
        root = body_slack(&f, &rc);
        break;
    case LH_NOTIFY_PAGERDUTY:
        root = body_pagerduty(&f, &rc);
        break;
    case LH_NOTIFY_WEBHOOK:
        break;
    }
    txt_free(&f.url);
    size_t len = out->len;
    rc = dump(root, rc, out);
    if (rc)
        out->len = len;
    return rc;
}
