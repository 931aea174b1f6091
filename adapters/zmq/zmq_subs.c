/*
 * zmq_subs.c - the subscription endpoint: alerts for subscribers the hub knows one by one, so
 * that what each of them loses is counted exactly (the XPUB of zmq_pub.c cannot say which
 * subscriber's queue dropped an alert).
 *
 * A ROUTER socket; clients are DEALERs. Every message of the hub is two frames, a word or a
 * topic and then its text or alert, so alerts decode as on PUB.
 *
 *   client -> hub   SUB    then 1..16 prefix frames (one message of 2..17 frames; an empty
 *                          prefix takes every alert); at most 16 prefixes per subscriber, each
 *                          at most 256 bytes. The first SUB makes the client a subscriber.
 *                   UNSUB  then 1..16 prefix frames; a subscriber left with none is forgotten
 *                   PING   alone: the heartbeat. Any message keeps a subscriber alive; one that
 *                          sent nothing for --zmq-subs-idle is forgotten.
 *   hub -> client   [topic "alert.<environment>.<service>"][encoded alert], as on PUB
 *                   [OK]["SUB prefixes=N idle_ms=M queue=Q"] / [OK]["UNSUB prefixes=N"]
 *                   [PONG]["sent=N dropped=N last_seq=S"]
 *                   [ERR][reason]  a request refused (nothing changed): unknown command, too
 *                          many frames, a prefix too long, too many prefixes, no prefix, not
 *                          subscribed (PING or UNSUB from a client the hub does not know, say
 *                          after a restart: SUB again), the subscriber table full
 *                   [LOST]["n first_seq last_seq"]  sent before the next alert that reaches a
 *                          subscriber which lost n alerts meanwhile, the first and the last of
 *                          them by seq (alerts between them it did not subscribe to are no
 *                          loss and not counted)
 *
 * Each subscriber has its own bounded queue: libzmq's pipe to it, at most --zmq-subs-queue
 * messages (ZMQ_SNDHWM). Every alert goes to every subscriber whose prefix matches its topic,
 * with ZMQ_ROUTER_MANDATORY and ZMQ_DONTWAIT: EAGAIN is that subscriber's full queue, the alert
 * is lost for it alone (counted for it and in total, and told with LOST); EHOSTUNREACH is a
 * subscriber gone, forgotten. publish() returns 0 when the alert reached at least one subscriber
 * (the hub counts it published), LH_PUBLISH_UNSENT when it reached none (every subscriber that
 * wanted it was full, or none wanted it), and LH_EAGAIN while there is no subscriber at all: the
 * alerts wait in the outbox for the first one. Peers, their prefixes and counts are kept in a
 * table of at most --zmq-subs-max subscribers; the per-subscriber series of /metrics come from it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "zmq_adapter.h"
#include "zmq_curve.h"

#define MAX_PREFIXES 16
#define PREFIX_MAX 256
#define MAX_FRAMES (1 + MAX_PREFIXES) /* a request, without the routing id */
#define IDLE_CHECK_NS LH_NS_PER_SEC
#define REQUEST_MAX (64 * 1024) /* ZMQ_MAXMSGSIZE: a larger frame disconnects the client */
#define LABEL_MAX 80

/* why a request was refused: loophub_zmq_subs_bad_requests_total{reason} */
typedef enum {
    BAD_UNKNOWN_COMMAND,
    BAD_TOO_MANY_FRAMES,
    BAD_PREFIX_TOO_LONG,
    BAD_TOO_MANY_PREFIXES,
    BAD_NO_PREFIX,
    BAD_NOT_SUBSCRIBED,
    BAD__COUNT
} bad_t;

static const char *const bad_names[BAD__COUNT] = {
    "unknown_command",   "too_many_frames", "prefix_too_long",
    "too_many_prefixes", "no_prefix",       "not_subscribed",
};

/* why a subscriber was forgotten: loophub_zmq_subs_forgotten_total{reason} */
typedef enum { GONE_IDLE, GONE_DISCONNECTED, GONE_UNSUBSCRIBED, GONE__COUNT } gone_t;

static const char *const gone_names[GONE__COUNT] = {"idle", "disconnected", "unsubscribed"};

typedef struct {
    uint8_t id[256]; /* the routing id */
    size_t id_len;
    char label[LABEL_MAX]; /* the id as a metric label: as is when printable, else 0x<hex> */
    char addr[64];         /* Peer-Address */
    char *prefix[MAX_PREFIXES];
    size_t prefix_len[MAX_PREFIXES];
    int n_prefix;
    int64_t seen; /* mono ns of its last message */
    uint64_t sent, dropped;
    int64_t last_seq; /* of the last alert sent to it */
    /* lost since the last alert it got, not told yet */
    uint64_t lost_n;
    int64_t lost_first, lost_last;
} speer_t;

typedef struct {
    void *zctx;
    void *sock;
    void *watch; /* with CURVE: the refused handshakes (zmq_curve.h) */
    int curve;
    char *endpoint;
    int queue;
    int max_peers;
    int64_t idle_ns;
    lh_hub_t *hub;
    speer_t **peers;
    int n_peers;
    int64_t check_at;
    uint64_t sent, dropped, unmatched, refused;
    uint64_t bad[BAD__COUNT];
    uint64_t gone[GONE__COUNT];
} zsubs_t;

static void
make_label(speer_t *p)
{
    int printable = p->id_len > 0 && p->id_len < LABEL_MAX;
    for (size_t i = 0; printable && i < p->id_len; i++) {
        uint8_t c = p->id[i];
        printable = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == ':';
    }
    if (printable) {
        memcpy(p->label, p->id, p->id_len);
        p->label[p->id_len] = 0;
        return;
    }
    /* hex; an id too long for the label is cut and followed by a hash of all of it, so two ids
     * never share a series */
    size_t n = (size_t)snprintf(p->label, sizeof(p->label), "0x");
    size_t room = (sizeof(p->label) - n - 1) / 2;
    size_t show = p->id_len <= room ? p->id_len : (sizeof(p->label) - n - 18) / 2;
    for (size_t i = 0; i < show; i++)
        n += (size_t)snprintf(p->label + n, sizeof(p->label) - n, "%02x", p->id[i]);
    if (show < p->id_len) {
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (size_t i = 0; i < p->id_len; i++)
            h = (h ^ p->id[i]) * 1099511628211ull;
        snprintf(p->label + n, sizeof(p->label) - n, "-%016llx", (unsigned long long)h);
    }
}

static speer_t *
find(zsubs_t *z, const zmq_msg_t *id, int *at)
{
    size_t len = zmq_msg_size((zmq_msg_t *)id);
    const void *data = zmq_msg_data((zmq_msg_t *)id);
    for (int i = 0; i < z->n_peers; i++) {
        if (z->peers[i]->id_len == len && memcmp(z->peers[i]->id, data, len) == 0) {
            if (at)
                *at = i;
            return z->peers[i];
        }
    }
    return NULL;
}

static void
forget(zsubs_t *z, int i, gone_t why)
{
    speer_t *p = z->peers[i];
    lh_log(LH_LOG_INFO, "zmq-subs",
           "subscriber %s (%s) forgotten (%s): sent %llu, lost %llu, last seq %lld", p->label,
           p->addr, gone_names[why], (unsigned long long)p->sent, (unsigned long long)p->dropped,
           (long long)p->last_seq);
    z->gone[why]++;
    for (int k = 0; k < p->n_prefix; k++)
        free(p->prefix[k]);
    free(p);
    z->peers[i] = z->peers[--z->n_peers];
}

/* Sends [id][a][b] to the peer with routing id id, without waiting. 0, or -1 with errno. */
static int
send3(zsubs_t *z, const void *id, size_t id_len, const void *a, size_t alen, const void *b,
      size_t blen)
{
    if (zmq_send(z->sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    /* the routing id took it: the rest of the message follows it into the same pipe */
    if (zmq_send(z->sock, a, alen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(z->sock, b, blen, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

/* A control reply [word][text]; a client whose queue is full misses it (logged at debug). */
__attribute__((format(printf, 4, 5))) static void
reply(zsubs_t *z, const zmq_msg_t *id, const char *word, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof(text))
        n = n < 0 ? 0 : (int)sizeof(text) - 1;
    if (send3(z, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size((zmq_msg_t *)id), word, strlen(word),
              text, (size_t)n) < 0)
        lh_log(LH_LOG_DEBUG, "zmq-subs", "reply %s not sent: %s", word, zmq_strerror(zmq_errno()));
}

__attribute__((format(printf, 4, 5))) static void
refuse(zsubs_t *z, const zmq_msg_t *id, bad_t why, const char *fmt, ...)
{
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    z->bad[why]++;
    lh_log_ratelimited("subs-bad", LH_LOG_WARN, "zmq-subs", "request refused: %s", text);
    reply(z, id, "ERR", "%s", text);
}

static int
has_prefix(const speer_t *p, const void *s, size_t len)
{
    for (int k = 0; k < p->n_prefix; k++)
        if (p->prefix_len[k] == len && memcmp(p->prefix[k], s, len) == 0)
            return k;
    return -1;
}

static int
frame_is(zmq_msg_t *m, const char *word)
{
    size_t n = strlen(word);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), word, n) == 0;
}

/* SUB: the peer gets a table entry on its first, every new prefix is added; all or nothing. */
static void
on_sub(zsubs_t *z, zmq_msg_t *f, int n)
{
    int at = -1;
    speer_t *p = find(z, &f[0], &at);
    int adding = 0;
    for (int i = 2; i < n; i++) {
        int dup = 0;
        for (int j = 2; j < i && !dup; j++)
            dup = zmq_msg_size(&f[j]) == zmq_msg_size(&f[i]) &&
                  memcmp(zmq_msg_data(&f[j]), zmq_msg_data(&f[i]), zmq_msg_size(&f[i])) == 0;
        if (!dup && (!p || has_prefix(p, zmq_msg_data(&f[i]), zmq_msg_size(&f[i])) < 0))
            adding++;
    }
    if ((p ? p->n_prefix : 0) + adding > MAX_PREFIXES) {
        refuse(z, &f[0], BAD_TOO_MANY_PREFIXES, "SUB: more than %d prefixes for one subscriber",
               MAX_PREFIXES);
        return;
    }
    if (!p && z->n_peers >= z->max_peers) {
        z->refused++;
        lh_log_ratelimited("subs-full", LH_LOG_WARN, "zmq-subs",
                           "subscriber refused: the table is full (%d subscribers, "
                           "--zmq-subs-max)",
                           z->max_peers);
        reply(z, &f[0], "ERR", "full: the hub has %d subscribers, its most; try again later",
              z->max_peers);
        return;
    }
    int first = z->n_peers == 0;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return; /* no reply: the client asks again */
        p->id_len = zmq_msg_size(&f[0]);
        memcpy(p->id, zmq_msg_data(&f[0]), p->id_len);
        make_label(p);
        const char *addr = zmq_msg_gets(&f[1], "Peer-Address");
        snprintf(p->addr, sizeof(p->addr), "%s", addr ? addr : "local");
        z->peers[z->n_peers++] = p;
        lh_log(LH_LOG_INFO, "zmq-subs", "subscriber %s (%s) joined", p->label, p->addr);
    }
    p->seen = lh_mono_ns();
    for (int i = 2; i < n; i++) {
        size_t len = zmq_msg_size(&f[i]);
        if (has_prefix(p, zmq_msg_data(&f[i]), len) >= 0)
            continue;
        char *copy = malloc(len + 1);
        if (!copy)
            break;
        memcpy(copy, zmq_msg_data(&f[i]), len);
        copy[len] = 0;
        p->prefix[p->n_prefix] = copy;
        p->prefix_len[p->n_prefix++] = len;
        lh_log(LH_LOG_DEBUG, "zmq-subs", "subscriber %s: subscribe '%.*s'", p->label, (int)len,
               copy);
    }
    reply(z, &f[0], "OK", "SUB prefixes=%d idle_ms=%lld queue=%d", p->n_prefix,
          (long long)(z->idle_ns / 1000000), z->queue);
    if (first)
        lh_hub_outbox_kick(z->hub);
}

static void
on_unsub(zsubs_t *z, zmq_msg_t *f, int n)
{
    int at = -1;
    speer_t *p = find(z, &f[0], &at);
    if (!p) {
        refuse(z, &f[0], BAD_NOT_SUBSCRIBED, "UNSUB: not subscribed");
        return;
    }
    p->seen = lh_mono_ns();
    for (int i = 2; i < n; i++) {
        int k = has_prefix(p, zmq_msg_data(&f[i]), zmq_msg_size(&f[i]));
        if (k < 0)
            continue;
        free(p->prefix[k]);
        p->prefix[k] = p->prefix[p->n_prefix - 1];
        p->prefix_len[k] = p->prefix_len[p->n_prefix - 1];
        p->n_prefix--;
    }
    int left = p->n_prefix;
    if (left == 0)
        forget(z, at, GONE_UNSUBSCRIBED);
    reply(z, &f[0], "OK", "UNSUB prefixes=%d", left);
}

/* One request: f[0] the routing id, f[1] the command, n frames in all (n > MAX_FRAMES + 1 when
 * the client sent more than were kept). */
static void
on_request(zsubs_t *z, zmq_msg_t *f, int n)
{
    speer_t *known = find(z, &f[0], NULL);
    if (known)
        known->seen = lh_mono_ns(); /* any message keeps it alive */
    if (n < 2) {
        refuse(z, &f[0], BAD_UNKNOWN_COMMAND, "empty request: send SUB, UNSUB or PING");
        return;
    }
    char cmd[24];
    size_t cl = zmq_msg_size(&f[1]);
    size_t show = cl < sizeof(cmd) - 1 ? cl : sizeof(cmd) - 1;
    for (size_t i = 0; i < show; i++) {
        char c = ((const char *)zmq_msg_data(&f[1]))[i];
        cmd[i] = c >= 0x20 && c < 0x7f && c != '\'' ? c : '?';
    }
    cmd[show] = 0;
    int sub = frame_is(&f[1], "SUB"), unsub = frame_is(&f[1], "UNSUB");
    if (!sub && !unsub && !frame_is(&f[1], "PING")) {
        refuse(z, &f[0], BAD_UNKNOWN_COMMAND, "unknown command '%s%s': send SUB, UNSUB or PING",
               cmd, cl > show ? "..." : "");
        return;
    }
    if (n > MAX_FRAMES + 1 || (!sub && !unsub && n > 2)) {
        refuse(z, &f[0], BAD_TOO_MANY_FRAMES, "%s: too many frames (%s)", cmd,
               sub || unsub ? "at most 16 prefixes a message" : "PING comes alone");
        return;
    }
    if (!sub && !unsub) {
        speer_t *p = find(z, &f[0], NULL);
        if (!p) {
            refuse(z, &f[0], BAD_NOT_SUBSCRIBED, "PING: not subscribed (SUB again)");
            return;
        }
        p->seen = lh_mono_ns();
        reply(z, &f[0], "PONG", "sent=%llu dropped=%llu last_seq=%lld", (unsigned long long)p->sent,
              (unsigned long long)p->dropped, (long long)p->last_seq);
        return;
    }
    if (n < 3) {
        refuse(z, &f[0], BAD_NO_PREFIX, "%s: no prefix frame (an empty one takes every alert)",
               cmd);
        return;
    }
    for (int i = 2; i < n; i++) {
        if (zmq_msg_size(&f[i]) > PREFIX_MAX) {
            refuse(z, &f[0], BAD_PREFIX_TOO_LONG, "%s: a prefix of %zu bytes, longer than %d", cmd,
                   zmq_msg_size(&f[i]), PREFIX_MAX);
            return;
        }
    }
    if (sub)
        on_sub(z, f, n);
    else
        on_unsub(z, f, n);
}

static int
zsubs_read(void *vctx, int budget)
{
    zsubs_t *z = vctx;
    if (z->watch)
        lh_zmq_watch_read(z->watch, z->hub, "zmq-subs", NULL, NULL);
    for (int r = 0; r < (budget > 0 ? budget : 1000); r++) {
        zmq_msg_t f[MAX_FRAMES + 2];
        int n = 0, more = 1, fail = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, z->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&m);
                fail = 1;
                break;
            }
            more = zmq_msg_more(&m);
            if (n < MAX_FRAMES + 2)
                f[n++] = m; /* one past the most a request has: "too many" */
            else
                zmq_msg_close(&m);
        }
        if (n > 0 && !fail)
            on_request(z, f, n);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        if (fail)
            break;
    }
    return 0; /* requests are not messages for the hub */
}

static int
matches(const speer_t *p, const char *topic, size_t tl)
{
    for (int k = 0; k < p->n_prefix; k++)
        if (p->prefix_len[k] <= tl && memcmp(p->prefix[k], topic, p->prefix_len[k]) == 0)
            return 1;
    return 0;
}

/* The alert is lost for p: counted, remembered for its LOST notice, logged when p starts to
 * lose alerts. */
static void
drop(zsubs_t *z, speer_t *p, int64_t seq)
{
    p->dropped++;
    z->dropped++;
    if (p->lost_n++ == 0) {
        p->lost_first = seq;
        lh_log_ratelimited("subs-drop", LH_LOG_WARN, "zmq-subs",
                           "subscriber %s (%s) loses alerts from seq %lld on: its queue of %d "
                           "is full (it has lost %llu in all; it is told when it reads again)",
                           p->label, p->addr, (long long)seq, z->queue,
                           (unsigned long long)p->dropped);
    }
    p->lost_last = seq;
}

/* One alert to p: its LOST notice first when it has lost any. 0 sent, or -1 with errno
 * (EAGAIN: its queue is full; EHOSTUNREACH: gone). */
static int
send_alert(zsubs_t *z, speer_t *p, const char *topic, size_t tl, const void *payload, size_t len)
{
    if (p->lost_n) {
        char text[80];
        int n = snprintf(text, sizeof(text), "%llu %lld %lld", (unsigned long long)p->lost_n,
                         (long long)p->lost_first, (long long)p->lost_last);
        if (send3(z, p->id, p->id_len, "LOST", 4, text, (size_t)n) < 0)
            return -1;
        lh_log(LH_LOG_INFO, "zmq-subs", "subscriber %s (%s) reads again: told it lost %s", p->label,
               p->addr, text);
        p->lost_n = 0;
    }
    return send3(z, p->id, p->id_len, topic, tl, payload, len);
}

static int
zsubs_publish(void *vctx, int64_t seq, const lh_correlated_t *ca, const void *payload, size_t len)
{
    zsubs_t *z = vctx;
    if (z->n_peers == 0)
        return LH_EAGAIN; /* kept in the outbox for the first subscriber */
    char topic[512];
    int tl = snprintf(topic, sizeof(topic), "alert.%s.%s", ca->environment ? ca->environment : "",
                      ca->service ? ca->service : "");
    if (tl < 0 || tl >= (int)sizeof(topic))
        tl = (int)sizeof(topic) - 1;
    int matched = 0, sent = 0;
    for (int i = 0; i < z->n_peers;) {
        speer_t *p = z->peers[i];
        if (!matches(p, topic, (size_t)tl)) {
            i++;
            continue;
        }
        matched++;
        if (send_alert(z, p, topic, (size_t)tl, payload, len) == 0) {
            sent++;
            p->sent++;
            z->sent++;
            p->last_seq = seq;
        } else if (zmq_errno() == EHOSTUNREACH) {
            forget(z, i, GONE_DISCONNECTED);
            continue; /* another peer moved into slot i */
        } else {
            drop(z, p, seq); /* EAGAIN: its own queue is full */
        }
        i++;
    }
    if (sent > 0)
        return 0;
    if (z->n_peers == 0)
        return LH_EAGAIN; /* the only ones were gone: wait for the next */
    if (matched == 0)
        z->unmatched++;
    return LH_PUBLISH_UNSENT;
}

static void
zsubs_tick(void *vctx, int64_t now)
{
    zsubs_t *z = vctx;
    if (now < z->check_at)
        return;
    z->check_at = now + IDLE_CHECK_NS;
    for (int i = 0; i < z->n_peers;) {
        if (now - z->peers[i]->seen > z->idle_ns)
            forget(z, i, GONE_IDLE);
        else
            i++;
    }
}

static int
put_peer_family(lh_buf_t *out, const zsubs_t *z, const char *name, const char *help, int which)
{
    int rc = lh_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (int i = 0; i < z->n_peers; i++) {
        const speer_t *p = z->peers[i];
        long long v = which == 0   ? (long long)p->sent
                      : which == 1 ? (long long)p->dropped
                                   : (long long)p->last_seq;
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "%s{peer=\"%s\",address=\"%s\"} %lld\n", name,
                                        p->label, p->addr, v));
    }
    return rc;
}

static int
zsubs_metrics(void *vctx, lh_buf_t *out)
{
    const zsubs_t *z = vctx;
    int rc = lh_buf_printf(
        out,
        "# HELP loophub_zmq_subs_subscribers Subscribers of the subscription endpoint "
        "(--zmq-subs) the hub knows now.\n"
        "# TYPE loophub_zmq_subs_subscribers gauge\nloophub_zmq_subs_subscribers %d\n"
        "# HELP loophub_zmq_subs_sent_total Alerts sent on the subscription endpoint, one for "
        "each subscriber that got one.\n"
        "# TYPE loophub_zmq_subs_sent_total counter\nloophub_zmq_subs_sent_total %llu\n"
        "# HELP loophub_zmq_subs_dropped_total Alerts lost by a subscription endpoint "
        "subscriber whose own queue was full, one for each subscriber that lost one.\n"
        "# TYPE loophub_zmq_subs_dropped_total counter\nloophub_zmq_subs_dropped_total %llu\n"
        "# HELP loophub_zmq_subs_unmatched_total Alerts no subscriber of the subscription "
        "endpoint subscribed to (not sent, not published).\n"
        "# TYPE loophub_zmq_subs_unmatched_total counter\n"
        "loophub_zmq_subs_unmatched_total %llu\n"
        "# HELP loophub_zmq_subs_refused_total Clients refused a subscription: the table of "
        "subscribers was full (--zmq-subs-max).\n"
        "# TYPE loophub_zmq_subs_refused_total counter\nloophub_zmq_subs_refused_total %llu\n"
        "# HELP loophub_zmq_subs_bad_requests_total Requests refused with ERR, by reason.\n"
        "# TYPE loophub_zmq_subs_bad_requests_total counter\n",
        z->n_peers, (unsigned long long)z->sent, (unsigned long long)z->dropped,
        (unsigned long long)z->unmatched, (unsigned long long)z->refused);
    for (int i = 0; i < BAD__COUNT; i++)
        LH_KEEP_FIRST(rc, lh_buf_printf(out,
                                        "loophub_zmq_subs_bad_requests_total{reason=\"%s\"} "
                                        "%llu\n",
                                        bad_names[i], (unsigned long long)z->bad[i]));
    LH_KEEP_FIRST(rc, lh_buf_printf(out, "# HELP loophub_zmq_subs_forgotten_total Subscribers "
                                         "forgotten, by reason.\n"
                                         "# TYPE loophub_zmq_subs_forgotten_total counter\n"));
    for (int i = 0; i < GONE__COUNT; i++)
        LH_KEEP_FIRST(rc, lh_buf_printf(out,
                                        "loophub_zmq_subs_forgotten_total{reason=\"%s\"} "
                                        "%llu\n",
                                        gone_names[i], (unsigned long long)z->gone[i]));
    LH_KEEP_FIRST(rc, put_peer_family(out, z, "loophub_zmq_subs_subscriber_sent",
                                      "Alerts sent to this subscriber since it subscribed.", 0));
    LH_KEEP_FIRST(rc, put_peer_family(out, z, "loophub_zmq_subs_subscriber_dropped",
                                      "Alerts this subscriber lost (its queue was full) since "
                                      "it subscribed.",
                                      1));
    LH_KEEP_FIRST(rc, put_peer_family(out, z, "loophub_zmq_subs_subscriber_last_seq",
                                      "The seq of the last alert sent to this subscriber.", 2));
    return rc ? LH_ENOMEM : 0;
}

static int
zsubs_start(void *vctx, lh_hub_t *hub)
{
    zsubs_t *z = vctx;
    z->hub = hub;
    if (z->curve) {
        int rc = lh_zmq_watch(z->zctx, z->sock, LH_ZMQ_WATCH_REFUSALS, &z->watch);
        if (rc < 0)
            return rc;
    }
    if (zmq_bind(z->sock, z->endpoint) != 0) {
        lh_log(LH_LOG_ERROR, "zmq-subs", "cannot bind %s: %s", z->endpoint,
               zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    lh_log(LH_LOG_INFO, "zmq-subs",
           "alert subscriptions on %s (queue %d per subscriber, at most %d)", z->endpoint, z->queue,
           z->max_peers);
    return 0;
}

static int
zsubs_pollitems(void *vctx, lh_pollitem_t *items, int max)
{
    zsubs_t *z = vctx;
    if (max < 1)
        return 0;
    items[0].socket = z->sock;
    items[0].fd = 0;
    items[0].events = LH_POLLIN;
    items[0].revents = 0;
    if (!z->watch || max < 2)
        return 1;
    items[1] = items[0];
    items[1].socket = z->watch;
    return 2;
}

static void
zsubs_destroy(void *vctx)
{
    zsubs_t *z = vctx;
    if (z->watch)
        lh_zmq_watch_close(z->sock, z->watch);
    while (z->n_peers > 0) {
        speer_t *p = z->peers[--z->n_peers];
        for (int k = 0; k < p->n_prefix; k++)
            free(p->prefix[k]);
        free(p);
    }
    free(z->peers);
    if (z->sock)
        zmq_close(z->sock);
    free(z->endpoint);
    free(z);
}

static const lh_adapter_ops_t zsubs_ops = {
    .name = "zmq-subs",
    .start = zsubs_start,
    .pollitems = zsubs_pollitems,
    .read = zsubs_read,
    .publish = zsubs_publish,
    .tick = zsubs_tick,
    .destroy = zsubs_destroy,
    .metrics = zsubs_metrics,
};

int
lh_zmq_subs_curve(void *ctx, const char *secret)
{
    zsubs_t *z = ctx;
    char err[200];
    int rc = lh_zmq_curve_server(z->sock, secret, err, sizeof(err));
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, "zmq-subs", "%s", err);
        return rc;
    }
    z->curve = 1;
    return 0;
}

int
lh_zmq_subs_new(void *zctx, const lh_zmq_subs_opts_t *o, const lh_adapter_ops_t **ops, void **ctx)
{
    if (o->queue < 1 || o->max_peers < 1 || o->idle_ns <= 0)
        return LH_EINVAL;
    zsubs_t *z = calloc(1, sizeof(*z));
    if (!z)
        return LH_ENOMEM;
    z->zctx = zctx;
    z->queue = o->queue;
    z->max_peers = o->max_peers;
    z->idle_ns = o->idle_ns;
    z->endpoint = strdup(o->endpoint);
    z->peers = calloc((size_t)o->max_peers, sizeof(*z->peers));
    if (!z->endpoint || !z->peers) {
        zsubs_destroy(z);
        return LH_ENOMEM;
    }
    z->sock = zmq_socket(zctx, ZMQ_ROUTER);
    if (!z->sock) {
        lh_log(LH_LOG_ERROR, "zmq-subs", "zmq_socket: %s", zmq_strerror(zmq_errno()));
        zsubs_destroy(z);
        return LH_ETRANSPORT;
    }
    int one = 1, linger = 1000, hwm = o->queue;
    int64_t maxmsg = REQUEST_MAX;
    if (zmq_setsockopt(z->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(z->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
        zmq_setsockopt(z->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0) {
        lh_log(LH_LOG_ERROR, "zmq-subs", "zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
        zsubs_destroy(z);
        return LH_ETRANSPORT;
    }
    *ops = &zsubs_ops;
    *ctx = z;
    return 0;
}
