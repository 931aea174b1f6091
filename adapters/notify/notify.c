/*
 * notify.c - one notification sink: the correlated alerts of the outbox posted, in order, to one
 * HTTP receiver with libcurl's multi interface, on the hub's thread and never blocking it.
 *
 * Delivery: publish() routes the alert (lh_notify_routes) and queues it; the queue is a ring of
 * at most `queue` jobs, posted one at a time in order, so a revision never overtakes the alert it
 * revises. Each job keeps its alert (protobuf) and its body is made at each try, so a time in it
 * (Alertmanager's endsAt) is the post's. A 2xx marks an alert done (lh_hub_alert_done). A
 * timeout, a transport error, a 5xx, 408 or 429 is retried with exponential backoff (1 s, 2 s,
 * 4 s, ... at most 5 min between tries) up to `retries` times; then, or at once on any other
 * status (the receiver says it will never take it), the alert is a dead letter: logged with its
 * id and the receiver's answer, counted, and marked done so the sink moves on. A full queue
 * answers the outbox LH_EAGAIN (it offers the alert again), so a receiver that is down costs a
 * bounded queue: intake and the other sinks go on. What was not marked done when the hub stops
 * is offered again at the next start (at least once; a receiver dedupes on the alert id and
 * revision, which every body carries).
 *
 * An alert older than `max_age` when first offered (a sink new to a store with history, a hub
 * that was down for long) is not sent: it is counted as stale and marked done. The open set
 * holds the alerts this sink told of that are not resolved: their later revisions are sent
 * whatever the routing or age say, so a resolution always follows what was posted.
 *
 * Alertmanager: an open alert must be posted again before its endsAt, or Alertmanager resolves
 * it. The open set keeps the latest revision of each (at most `queue`, as protobuf), posted again
 * every `resend` (one try, at most one waiting per alert); the final revision (every outcome
 * resolved) posts endsAt = the resolution and leaves the set. PagerDuty's change events
 * (stored(), notify_change.c) are jobs of one try too.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "notify.h"

#define COMPONENT "notify"
#define MAX_FDS 8
#define BACKOFF_MAX_NS (300 * LH_NS_PER_SEC)
#define ANSWER_MAX 300

typedef enum {
    JOB_ALERT,  /* an outbox alert: retried, then a dead letter; reported done */
    JOB_RESEND, /* Alertmanager: an open alert posted again; one try */
    JOB_CHANGE, /* PagerDuty: a change event; one try */
} job_kind_t;

typedef struct job {
    job_kind_t kind;
    int64_t seq;     /* JOB_ALERT: the outbox alert */
    const char *url; /* the sink's URL, or its change events' */
    char id[96];     /* what it is, for the log: the alert id and revision */
    char alert[80];  /* JOB_RESEND: the alert id, to find its entry in the open set */
    lh_buf_t pb;     /* JOB_ALERT, JOB_RESEND: the alert, encoded again at each try */
    lh_buf_t body;   /* what is posted (JOB_CHANGE: made when queued) */
    int attempts;
    int64_t next_mono; /* not before */
} job_t;

/* An alert this sink has posted a revision of and that is not resolved yet. Its later revisions
 * are sent whatever the routing or the age say (a resolution must follow what was told), and
 * for Alertmanager it is posted again every `resend`. */
typedef struct active {
    char *id;
    lh_buf_t pb;  /* Alertmanager: its latest revision */
    int64_t last; /* mono ns of its last post */
    int resend_queued;
} active_t;

typedef struct sink sink_t;

/* The sinks of one hub: the first one's metrics op writes every sink's series under one HELP and
 * TYPE per family (the text format allows no second). Freed with its last sink. */
struct lh_notify_group {
    sink_t **v;
    int n, cap, refs;
};

struct sink {
    lh_notify_group_t *g;
    lh_notify_sink_conf_t c;
    int64_t queue_cap, retries, timeout, resend, max_age;
    char *hub_url;
    lh_hub_t *hub;
    lh_adapter_t *self;
    CURLM *multi;
    CURL *easy; /* the request in flight, for the head job */
    struct curl_slist *hdrs;
    int64_t timer_at; /* mono ns curl wants to be called at (curl_multi_timeout), -1: never */
    char errbuf[CURL_ERROR_SIZE];
    char answer[ANSWER_MAX + 1];
    size_t answer_len;
    struct {
        curl_socket_t fd;
        short events;
    } fds[MAX_FDS];
    int n_fds, overflow;
    /* the poll items this turn's pollitems() filled: read() comes in the same turn and reads
     * their revents (and takes back what curl let go meanwhile, so no stale socket is polled) */
    lh_pollitem_t *mine;
    int n_mine;
    job_t *ring; /* queue_cap slots */
    int64_t head, n;
    active_t *act; /* queue_cap slots */
    int64_t n_act;
    int64_t next_resend;
    /* counters */
    int64_t delivered, failures, dead, stale, unrouted, resent, changes, consecutive;
    char last_error[200]; /* for GET /v1/sinks: printable ASCII only */
    char last_status[64]; /* for /healthz: "HTTP 503" or curl's error, no receiver text */
    int stopping;
};

/* --- curl on the reactor --------------------------------------------------------------------
 * libcurl's socket interface: the sockets curl names (CURLMOPT_SOCKETFUNCTION) are this
 * adapter's poll items, read() hands the ready ones to curl_multi_socket_action(), and tick()
 * serves curl's timeout, which is asked again (curl_multi_timeout) after every call, so curl is
 * driven only when it has something to do. */

static int
on_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
    (void)e;
    (void)sockp;
    sink_t *s = arg;
    int i = 0;
    while (i < s->n_fds && s->fds[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < s->n_fds)
            s->fds[i] = s->fds[--s->n_fds];
        return 0;
    }
    if (i == s->n_fds) {
        if (s->n_fds == MAX_FDS) {
            s->overflow = 1; /* a socket the reactor does not see: tick() drives curl */
            return 0;
        }
        s->n_fds++;
        s->fds[i].fd = fd;
    }
    s->fds[i].events = (short)(((what & CURL_POLL_IN) ? LH_POLLIN : 0) |
                               ((what & CURL_POLL_OUT) ? LH_POLLOUT : 0));
    return 0;
}

static void
ask_timer(sink_t *s)
{
    long ms = -1;
    if (curl_multi_timeout(s->multi, &ms) != CURLM_OK)
        ms = 100;
    s->timer_at = ms < 0 ? -1 : lh_mono_ns() + (int64_t)ms * LH_NS_PER_MS;
}

static void
curl_act(sink_t *s, curl_socket_t fd, int mask)
{
    int running = 0;
    curl_multi_socket_action(s->multi, fd, mask, &running);
    ask_timer(s);
}

static size_t
on_answer(char *p, size_t size, size_t n, void *arg)
{
    sink_t *s = arg;
    size_t len = size * n, room = ANSWER_MAX - s->answer_len;
    size_t k = len < room ? len : room;
    memcpy(s->answer + s->answer_len, p, k);
    s->answer_len += k;
    s->answer[s->answer_len] = '\0';
    return len;
}

/* The receiver for people (logs, GET /v1/sinks): scheme and host only, without any user and
 * password, since the path of a Slack or webhook URL is often its secret. */
static const char *
receiver(const sink_t *s, char *buf, size_t len)
{
    const char *u = s->c.url, *sep = strstr(u, "://");
    const char *host = sep ? sep + 3 : u;
    size_t n = strcspn(host, "/?#");
    const char *at = memchr(host, '@', n);
    while (at) { /* the last '@' of the authority ends its userinfo */
        const char *next = memchr(at + 1, '@', n - (size_t)(at + 1 - host));
        if (!next)
            break;
        at = next;
    }
    if (at) {
        n -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    snprintf(buf, len, "%.*s%.*s", sep ? (int)(sep + 3 - u) : 0, u, (int)n, host);
    return buf;
}

/* Keeps text as printable ASCII (a receiver's answer can hold anything: JSON documents and logs
 * must stay valid). */
static void
printable(char *out, size_t len, const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 1 < len; p++)
        out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
    out[n] = '\0';
}

static job_t *
head(sink_t *s)
{
    return s->n ? &s->ring[s->head] : NULL;
}

/* The free slot at the ring's tail, zeroed; NULL when the ring is full. */
static job_t *
tail_slot(sink_t *s)
{
    if (s->n == s->queue_cap)
        return NULL;
    job_t *j = &s->ring[(s->head + s->n) % s->queue_cap];
    memset(j, 0, sizeof(*j));
    return j;
}

static active_t *
active_find(sink_t *s, const char *id)
{
    for (int64_t i = 0; id && i < s->n_act; i++)
        if (!strcmp(s->act[i].id, id))
            return &s->act[i];
    return NULL;
}

static void
active_drop(sink_t *s, active_t *a)
{
    free(a->id);
    lh_buf_free(&a->pb);
    *a = s->act[--s->n_act];
    memset(&s->act[s->n_act], 0, sizeof(s->act[0]));
}

static void
pop(sink_t *s)
{
    job_t *j = head(s);
    if (j->kind == JOB_RESEND) {
        active_t *a = active_find(s, j->alert);
        if (a)
            a->resend_queued = 0;
    }
    lh_buf_free(&j->pb);
    lh_buf_free(&j->body);
    memset(j, 0, sizeof(*j));
    s->head = (s->head + 1) % s->queue_cap;
    s->n--;
    if (s->hub && s->n + 1 == s->queue_cap)
        lh_hub_outbox_kick(s->hub); /* room again */
}

/* The body of an alert job at the moment of its post (Alertmanager's endsAt runs from now). */
static int
encode(sink_t *s, const lh_correlated_t *ca, lh_buf_t *out, char *why, size_t whylen)
{
    lh_notify_body_opts_t o = {
        .hub_url = s->hub_url,
        .cloudevents = s->c.cloudevents,
        .labels = (const char *const *)s->c.labels.v,
        .n_labels = s->c.labels.n,
        .routing_key = s->c.routing_key,
        .now_ns = lh_now_ns(),
        .resend_ns = s->resend,
    };
    lh_buf_reset(out);
    return lh_notify_body(s->c.kind, ca, &o, out, why, whylen);
}

static int
encode_job(sink_t *s, job_t *j)
{
    if (j->kind == JOB_CHANGE)
        return 0;
    lh_correlated_t *ca = NULL;
    char why[200] = "";
    int rc = lh_codec_alert_pb_decode(j->pb.data, j->pb.len, &ca);
    if (rc == 0)
        rc = encode(s, ca, &j->body, why, sizeof(why));
    lh_correlated_destroy(&ca);
    if (rc < 0)
        lh_log(LH_LOG_ERROR, COMPONENT, "sink %s: %s cannot be encoded: %s", s->c.name, j->id,
               why[0] ? why : lh_strerror(rc));
    return rc;
}

static void
start(sink_t *s, job_t *j)
{
    j->attempts++;
    if (encode_job(s, j) < 0) {
        j->attempts = (int)s->retries + 1; /* it never will be: no retry */
        j->next_mono = 0;
        return;
    }
    CURL *e = curl_easy_init();
    if (!e) {
        j->next_mono = lh_mono_ns() + LH_NS_PER_SEC;
        j->attempts--;
        return;
    }
    s->answer_len = 0;
    s->answer[0] = '\0';
    s->errbuf[0] = '\0';
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    char h[160];
    snprintf(h, sizeof(h), "Content-Type: %s",
             lh_notify_content_type(s->c.kind, j->kind == JOB_ALERT && s->c.cloudevents));
    s->hdrs = curl_slist_append(s->hdrs, h);
    s->hdrs = curl_slist_append(s->hdrs, "Expect:");
    if (s->c.secret) {
        char sig[96];
        lh_notify_signature(s->c.secret, j->body.data, j->body.len, sig, sizeof(sig));
        snprintf(h, sizeof(h), "X-Loophub-Signature: %s", sig);
        s->hdrs = curl_slist_append(s->hdrs, h);
    }
    int64_t timeout_ms = (s->c.timeout ? s->c.timeout : s->timeout) / LH_NS_PER_MS;
    if (timeout_ms < 1)
        timeout_ms = 1; /* 0 would mean no limit at all */
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)j->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "loophub");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        j->next_mono = lh_mono_ns() + LH_NS_PER_SEC;
        j->attempts--;
        return;
    }
    s->easy = e;
    curl_act(s, CURL_SOCKET_TIMEOUT, 0); /* curl begins: resolve, connect */
}

static void
report_done(sink_t *s, job_t *j)
{
    if (j->kind == JOB_ALERT && s->hub)
        lh_hub_alert_done(s->hub, s->self, j->seq);
}

/* The head job's request ended: code is the HTTP status, 0 when there was no answer. */
static void
finished(sink_t *s, long code, CURLcode cc)
{
    job_t *j = head(s);
    int64_t now = lh_mono_ns();
    if (cc == CURLE_OK && code >= 200 && code < 300) {
        s->consecutive = 0;
        if (j->kind == JOB_ALERT) {
            s->delivered++;
        } else if (j->kind == JOB_RESEND) {
            s->resent++;
            active_t *a = active_find(s, j->alert);
            if (a)
                a->last = now;
        } else {
            s->changes++;
        }
        report_done(s, j);
        pop(s);
        return;
    }
    s->failures++;
    s->consecutive++;
    char raw[200];
    if (cc != CURLE_OK) {
        snprintf(raw, sizeof(raw), "%.160s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
        printable(s->last_status, sizeof(s->last_status), raw);
    } else {
        snprintf(raw, sizeof(raw), "HTTP %ld: %.120s", code, s->answer);
        snprintf(s->last_status, sizeof(s->last_status), "HTTP %ld", code);
    }
    printable(s->last_error, sizeof(s->last_error), raw);
    int retry =
        j->kind == JOB_ALERT && (cc != CURLE_OK || code >= 500 || code == 408 || code == 429);
    if (retry && j->attempts <= s->retries) {
        int64_t back = LH_NS_PER_SEC << (j->attempts - 1 < 20 ? j->attempts - 1 : 20);
        j->next_mono = now + (back < BACKOFF_MAX_NS ? back : BACKOFF_MAX_NS);
        lh_log(LH_LOG_WARN, COMPONENT, "sink %s: %s not delivered (%s), try %d of %lld in %lld s",
               s->c.name, j->id, s->last_error, j->attempts + 1, (long long)s->retries + 1,
               (long long)((j->next_mono - now) / LH_NS_PER_SEC));
        return;
    }
    char rb[200];
    if (j->kind == JOB_ALERT) {
        s->dead++;
        lh_log(LH_LOG_ERROR, COMPONENT,
               "sink %s: %s is a dead letter after %d tries (%s): not sent to %s; loophub "
               "timeline still has it",
               s->c.name, j->id, j->attempts, s->last_error, receiver(s, rb, sizeof(rb)));
    } else {
        lh_log_ratelimited("notify-best-effort", LH_LOG_WARN, COMPONENT,
                           "sink %s: %s not sent to %s (%s); not tried again", s->c.name, j->id,
                           receiver(s, rb, sizeof(rb)), s->last_error);
    }
    report_done(s, j);
    pop(s);
}

/* Reaps the request that finished, then starts the head job when it is due. */
static void
reap_and_start(sink_t *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE || m->easy_handle != s->easy)
            continue;
        long code = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        CURLcode cc = m->data.result;
        curl_multi_remove_handle(s->multi, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
        finished(s, code, cc);
    }
    job_t *j;
    while (!s->easy && !s->stopping && (j = head(s)) && lh_mono_ns() >= j->next_mono) {
        start(s, j);
        if (s->easy || j->next_mono != 0)
            break; /* in flight, or to be tried again later */
        /* it can no longer be encoded: a dead letter now */
        if (j->kind == JOB_ALERT)
            s->dead++;
        report_done(s, j);
        pop(s);
    }
}

/* --- the open set, and Alertmanager's resend ------------------------------------------------ */

/* After ca was queued: keeps it in the open set (its latest revision, for Alertmanager's resend),
 * or lets it go once resolved. The set holds at most `queue` alerts; the oldest is let go when
 * it is full (Alertmanager then ends it at its endsAt). */
static void
active_keep(sink_t *s, const lh_correlated_t *ca)
{
    active_t *a = active_find(s, ca->id);
    if (ca->resolved || !ca->id) {
        if (a)
            active_drop(s, a);
        return;
    }
    if (!a) {
        if (s->n_act == s->queue_cap) {
            int64_t oldest = 0;
            for (int64_t i = 1; i < s->n_act; i++)
                if (s->act[i].last < s->act[oldest].last)
                    oldest = i;
            lh_log_ratelimited("notify-active-full", LH_LOG_WARN, COMPONENT,
                               "sink %s: %lld open alerts, the most there can be: %s is no longer "
                               "followed",
                               s->c.name, (long long)s->n_act, s->act[oldest].id);
            active_drop(s, &s->act[oldest]);
        }
        a = &s->act[s->n_act];
        memset(a, 0, sizeof(*a));
        if (!(a->id = strdup(ca->id)))
            return;
        s->n_act++;
    }
    a->last = lh_mono_ns();
    if (s->c.kind == LH_NOTIFY_ALERTMANAGER) {
        lh_buf_reset(&a->pb);
        if (lh_codec_alert_pb_encode(ca, &a->pb) < 0)
            active_drop(s, a);
    }
}

/* Queues alert ca (kind JOB_ALERT with its outbox seq, or JOB_RESEND). 0, LH_EAGAIN (full) or
 * another LH_E* (it cannot be encoded). */
static int
enqueue(sink_t *s, job_kind_t kind, int64_t seq, const lh_correlated_t *ca)
{
    job_t *j = tail_slot(s);
    if (!j)
        return LH_EAGAIN;
    char why[200] = "";
    /* encoded once now, so what can never be encoded is refused at once */
    int rc = encode(s, ca, &j->body, why, sizeof(why));
    if (rc == 0 && lh_codec_alert_pb_encode(ca, &j->pb) < 0)
        rc = LH_ENOMEM;
    if (rc < 0) {
        lh_buf_free(&j->body);
        lh_buf_free(&j->pb);
        lh_log(LH_LOG_ERROR, COMPONENT, "sink %s: alert %s cannot be encoded: %s", s->c.name,
               ca->id ? ca->id : "?", why[0] ? why : lh_strerror(rc));
        return rc;
    }
    j->kind = kind;
    j->seq = seq;
    j->url = s->c.url;
    snprintf(j->id, sizeof(j->id), "%salert %.70s rev %u", kind == JOB_RESEND ? "resend of " : "",
             ca->id ? ca->id : "?", ca->revision);
    snprintf(j->alert, sizeof(j->alert), "%s", ca->id ? ca->id : "");
    j->next_mono = lh_mono_ns();
    s->n++;
    return 0;
}

static void
resend_due(sink_t *s, int64_t now)
{
    if (s->c.kind != LH_NOTIFY_ALERTMANAGER || now < s->next_resend)
        return;
    s->next_resend = now + s->resend / 4;
    for (int64_t i = 0; i < s->n_act && s->n < s->queue_cap; i++) {
        active_t *a = &s->act[i];
        if (a->resend_queued || now - a->last < s->resend || !a->pb.len)
            continue;
        lh_correlated_t *ca = NULL;
        if (lh_codec_alert_pb_decode(a->pb.data, a->pb.len, &ca) == 0 &&
            enqueue(s, JOB_RESEND, 0, ca) == 0)
            a->resend_queued = 1;
        lh_correlated_destroy(&ca);
    }
}

/* --- the adapter's ops ---------------------------------------------------------------------- */

static int
n_start(void *ctx, lh_hub_t *hub)
{
    sink_t *s = ctx;
    char rb[200];
    s->hub = hub;
    s->self = lh_hub_adapter_of(hub, s);
    lh_log(LH_LOG_INFO, COMPONENT, "sink %s: %s alerts to %s", s->c.name,
           lh_notify_kind_name(s->c.kind), receiver(s, rb, sizeof(rb)));
    return 0;
}

static int
n_pollitems(void *ctx, lh_pollitem_t *items, int max)
{
    sink_t *s = ctx;
    int k = 0;
    for (int i = 0; i < s->n_fds && k < max; i++, k++) {
        items[k].socket = NULL;
        items[k].fd = s->fds[i].fd;
        items[k].events = s->fds[i].events;
        items[k].revents = 0;
    }
    s->mine = items;
    s->n_mine = k;
    return k;
}

static int
n_read(void *ctx, int budget)
{
    (void)budget;
    sink_t *s = ctx;
    for (int k = 0; k < s->n_mine; k++) {
        short r = s->mine[k].revents;
        if (!r || s->mine[k].fd < 0)
            continue;
        int mask = ((r & LH_POLLIN) ? CURL_CSELECT_IN : 0) |
                   ((r & LH_POLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((r & ~(LH_POLLIN | LH_POLLOUT)) ? CURL_CSELECT_ERR : 0);
        curl_act(s, s->mine[k].fd, mask);
    }
    reap_and_start(s);
    /* the hub may poll these items again before this turn ends: a socket curl let go is not
     * polled (fd -1 is ignored), one it waits on differently now is polled for that */
    for (int k = 0; k < s->n_mine; k++) {
        int i = 0;
        while (i < s->n_fds && s->fds[i].fd != s->mine[k].fd)
            i++;
        if (i == s->n_fds) {
            s->mine[k].fd = -1;
            s->mine[k].events = 0;
        } else {
            s->mine[k].events = s->fds[i].events;
        }
    }
    return 0;
}

static int
n_publish(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    sink_t *s = ctx;
    /* a later revision of an alert this sink told of is always sent: its resolution must
     * follow, whatever this revision's routing or age */
    int told = active_find(s, ca->id) != NULL;
    if (!told && !lh_notify_routes(&s->c, ca)) {
        s->unrouted++;
        return LH_PUBLISH_UNSENT;
    }
    if (!told && s->max_age > 0 && ca->created_ns > 0 &&
        lh_now_ns() - ca->created_ns > s->max_age) {
        s->stale++;
        return LH_PUBLISH_UNSENT;
    }
    int rc = enqueue(s, JOB_ALERT, seq, ca);
    if (rc == LH_EAGAIN)
        return rc;
    if (rc < 0) {
        s->dead++;
        return LH_PUBLISH_UNSENT; /* it can never be encoded: do not offer it again */
    }
    active_keep(s, ca);
    if (!s->easy)
        reap_and_start(s); /* idle: post it now */
    return LH_PENDING;
}

/* PagerDuty: a change event for each deploy that finished, as it is stored (best effort: one
 * try, nothing of it kept for a later run; a deploy older than --notify-max-age, say history
 * sent again, is not told). */
static void
n_stored(void *ctx, const lh_event_t *ev)
{
    sink_t *s = ctx;
    if (!s->c.change_url || !lh_notify_change_wanted(ev) || !lh_notify_routes_change(&s->c, ev))
        return;
    if (s->max_age > 0 && lh_now_ns() - ev->time_ns > s->max_age) {
        s->stale++;
        return;
    }
    const char *what = ev->deploy.deploy_id ? ev->deploy.deploy_id : ev->id;
    job_t *j = tail_slot(s);
    if (!j) {
        s->failures++;
        lh_log_ratelimited("notify-change-full", LH_LOG_WARN, COMPONENT,
                           "sink %s: queue full, change event of %s not sent", s->c.name, what);
        return;
    }
    if (lh_notify_change_body(ev, s->c.routing_key, s->hub_url, &j->body) < 0) {
        lh_buf_free(&j->body);
        s->failures++;
        lh_log_ratelimited("notify-change-encode", LH_LOG_WARN, COMPONENT,
                           "sink %s: the change event of %s cannot be encoded", s->c.name, what);
        return;
    }
    j->kind = JOB_CHANGE;
    j->url = s->c.change_url;
    snprintf(j->id, sizeof(j->id), "change event of %.70s", what);
    j->next_mono = lh_mono_ns();
    s->n++;
    if (!s->easy)
        reap_and_start(s);
}

static void
n_tick(void *ctx, int64_t now)
{
    sink_t *s = ctx;
    resend_due(s, now);
    if ((s->timer_at >= 0 && now >= s->timer_at) || (s->easy && s->overflow))
        curl_act(s, CURL_SOCKET_TIMEOUT, 0);
    const job_t *j = head(s);
    if (s->easy || (j && now >= j->next_mono))
        reap_and_start(s);
}

static void
n_stop(void *ctx)
{
    (void)ctx; /* an output: it keeps delivering until destroy */
}

static void
n_destroy(void *ctx)
{
    sink_t *s = ctx;
    s->stopping = 1;
    if (s->easy) {
        curl_multi_remove_handle(s->multi, s->easy);
        curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->hdrs);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    while (s->n)
        pop(s);
    while (s->n_act)
        active_drop(s, &s->act[0]);
    free(s->ring);
    free(s->act);
    free(s->hub_url);
    lh_notify_sink_conf_free(&s->c);
    if (s->g) {
        for (int k = 0; k < s->g->n; k++)
            if (s->g->v[k] == s) {
                memmove(&s->g->v[k], &s->g->v[k + 1], (size_t)(s->g->n - k - 1) * sizeof(s));
                s->g->n--;
                break;
            }
        lh_notify_group_unref(s->g);
    }
    free(s);
}

static int
n_health(void *ctx, char *why, size_t whylen)
{
    sink_t *s = ctx;
    if (s->consecutive >= 3) {
        snprintf(why, whylen, "sink %s: %lld failed posts in a row, last: %s (%lld alerts waiting)",
                 s->c.name, (long long)s->consecutive, s->last_status, (long long)s->n);
        return LH_HEALTH_DEGRADED;
    }
    return LH_HEALTH_OK;
}

static int
n_metrics(void *ctx, lh_buf_t *out)
{
    const lh_notify_group_t *g = ((sink_t *)ctx)->g;
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } f[] = {
        {"loophub_notify_delivered_total", "counter", "alerts a notification sink delivered (2xx)",
         offsetof(sink_t, delivered)},
        {"loophub_notify_failed_posts_total", "counter",
         "posts that failed (no answer, timeout, or not 2xx); each is retried or a dead letter",
         offsetof(sink_t, failures)},
        {"loophub_notify_dead_letters_total", "counter",
         "alerts a sink gave up on (retries spent, or refused for good)", offsetof(sink_t, dead)},
        {"loophub_notify_stale_total", "counter",
         "alerts older than --notify-max-age when first offered, not sent",
         offsetof(sink_t, stale)},
        {"loophub_notify_unrouted_total", "counter",
         "alerts the sink's routing (env, service, min_severity, kinds) leaves out",
         offsetof(sink_t, unrouted)},
        {"loophub_notify_resent_total", "counter",
         "open alerts posted again to Alertmanager before their endsAt", offsetof(sink_t, resent)},
        {"loophub_notify_change_events_total", "counter",
         "PagerDuty change events delivered, one per deploy that finished",
         offsetof(sink_t, changes)},
        {"loophub_notify_queue", "gauge", "alerts a sink holds: in flight or waiting to be retried",
         offsetof(sink_t, n)},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (lh_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f[i].name, f[i].help, f[i].name,
                          f[i].type) < 0)
            return LH_ENOMEM;
        for (int k = 0; k < g->n; k++) {
            const sink_t *s = g->v[k];
            int64_t v;
            memcpy(&v, (const char *)s + f[i].off, sizeof(v));
            if (lh_buf_printf(out, "%s{sink=\"%s\"} %lld\n", f[i].name, s->c.name, (long long)v) <
                0)
                return LH_ENOMEM;
        }
    }
    return 0;
}

/* GET /v1/sinks: the receiver as scheme://host only (the rest of a Slack or webhook URL is often
 * its secret), the routing, the counts, the last error. */
static int
n_describe(void *ctx, lh_buf_t *out)
{
    sink_t *s = ctx;
    char rb[200];
    json_t *kinds = json_array();
    for (int k = 1; kinds && k <= LH_CA_UNAPPROVED_CHANGE; k++)
        if (s->c.kinds & (1u << k))
            json_array_append_new(kinds, json_string(lh_ca_kind_name((lh_ca_kind_t)k)));
    json_t *o = json_pack(
        "{s:s, s:s, s:{s:s?, s:s?, s:s?, s:o}, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, "
        "s:b}",
        "type", lh_notify_kind_name(s->c.kind), "receiver", receiver(s, rb, sizeof(rb)), "routing",
        "env", s->c.envs, "service", s->c.services, "min_severity",
        s->c.min_severity ? lh_severity_name((lh_severity_t)s->c.min_severity) : NULL, "kinds",
        kinds ? kinds : json_array(), "delivered", (json_int_t)s->delivered, "failed_posts",
        (json_int_t)s->failures, "dead_letters", (json_int_t)s->dead, "stale", (json_int_t)s->stale,
        "unrouted", (json_int_t)s->unrouted, "resent", (json_int_t)s->resent, "change_events",
        (json_int_t)s->changes, "queue", (json_int_t)s->n, "last_error",
        s->last_error[0] ? s->last_error : NULL, "healthy", s->consecutive < 3);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int rc = text && lh_buf_append(out, text, strlen(text)) == 0 ? 0 : LH_ENOMEM;
    free(text);
    json_decref(o);
    return rc;
}

#define NOTIFY_OPS                                                                                 \
    .name = "notify", .start = n_start, .pollitems = n_pollitems, .read = n_read,                  \
    .publish = n_publish, .tick = n_tick, .stop = n_stop, .destroy = n_destroy,                    \
    .health = n_health, .stored = n_stored, .describe = n_describe

/* the group's first sink writes the group's metrics */
static const lh_adapter_ops_t notify_ops_first = {NOTIFY_OPS, .metrics = n_metrics};
static const lh_adapter_ops_t notify_ops = {NOTIFY_OPS};

lh_notify_group_t *
lh_notify_group_new(void)
{
    lh_notify_group_t *g = calloc(1, sizeof(*g));
    if (g)
        g->refs = 1;
    return g;
}

void
lh_notify_group_unref(lh_notify_group_t *g)
{
    if (g && --g->refs <= 0) {
        free(g->v);
        free(g);
    }
}

int
lh_notify_sink_new(lh_notify_group_t *g, lh_notify_sink_conf_t *c, const lh_notify_settings_t *st,
                   const lh_adapter_ops_t **ops, void **ctx)
{
    sink_t *s = calloc(1, sizeof(*s));
    if (!s)
        return LH_ENOMEM;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 4;
        sink_t **v = realloc(g->v, (size_t)cap * sizeof(*v));
        if (!v) {
            free(s);
            return LH_ENOMEM;
        }
        g->v = v;
        g->cap = cap;
    }
    int first = g->n == 0;
    g->v[g->n++] = s;
    g->refs++;
    s->g = g;
    s->c = *c;
    memset(c, 0, sizeof(*c));
    s->queue_cap = st->queue > 0 ? st->queue : 1000;
    s->retries = st->retries >= 0 ? st->retries : 8;
    s->timeout = st->timeout > 0 ? st->timeout : 10 * LH_NS_PER_SEC;
    s->resend = st->resend > 0 ? st->resend : 60 * LH_NS_PER_SEC;
    s->max_age = st->max_age;
    s->ring = calloc((size_t)s->queue_cap, sizeof(*s->ring));
    s->act = calloc((size_t)s->queue_cap, sizeof(*s->act)); /* the open set */
    s->hub_url = st->hub_url ? strdup(st->hub_url) : NULL;
    s->multi = curl_multi_init();
    if (!s->ring || !s->act || !s->multi || (st->hub_url && !s->hub_url)) {
        n_destroy(s);
        return LH_ENOMEM;
    }
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    s->timer_at = -1;

    *ops = first ? &notify_ops_first : &notify_ops;
    *ctx = s;
    return 0;
}
