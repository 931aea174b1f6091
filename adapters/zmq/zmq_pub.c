/*
 * zmq_pub.c - the alerts publisher: an XPUB socket, two frames per alert (topic
 * "alert.<environment>.<service>", then the encoded alert).
 *
 * Each subscriber has its own bounded queue: libzmq keeps one pipe per connected peer, holding at
 * most ZMQ_SNDHWM (--zmq-pub-queue) alerts. Without ZMQ_XPUB_NODROP a full pipe drops the alert
 * for that peer only and every other subscriber still gets it; with NODROP (as before) one full
 * pipe failed the whole send, so a single subscriber that stopped reading cost every subscriber
 * its alerts. The subscriber that lost alerts sees the gap in seq. libzmq does not tell which
 * pipe dropped (no per-pipe state in its API), so those drops cannot be counted here: the
 * subscriber's seq is the record.
 *
 * While no subscriber is connected at all, alerts wait in the outbox instead of vanishing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "zmq_adapter.h"
#include "zmq_curve.h"

typedef struct {
    void *zctx;
    void *sock;
    void *watch; /* CURVE: failed handshakes (zmq_curve.h) */
    char *endpoint;
    lh_hub_t *hub;
    long subscriptions; /* live subscriptions seen on the XPUB socket */
} zpub_t;

static int
zpub_start(void *vctx, lh_hub_t *hub)
{
    zpub_t *z = vctx;
    z->hub = hub;
    if (zmq_bind(z->sock, z->endpoint) != 0) {
        lh_log(LH_LOG_ERROR, "zmq-pub", "cannot bind %s: %s", z->endpoint,
               zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    lh_log(LH_LOG_INFO, "zmq-pub", "alerts on %s", z->endpoint);
    return 0;
}

static int
zpub_pollitems(void *vctx, lh_pollitem_t *items, int max)
{
    zpub_t *z = vctx;
    if (max < 1)
        return 0;
    /* XPUB delivers subscription messages; they must be read or they pile up */
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

static int
zpub_read(void *vctx, int budget)
{
    zpub_t *z = vctx;
    char buf[256];
    (void)budget;
    lh_zmq_curve_watch_read(z->watch, z->hub, "zmq-pub");
    for (int i = 0; i < 1000; i++) {
        int n = zmq_recv(z->sock, buf, sizeof(buf), ZMQ_DONTWAIT);
        if (n < 0)
            break;
        if (n > 0 && buf[0] == 1 && z->subscriptions++ == 0)
            lh_hub_outbox_kick(z->hub);
        else if (n > 0 && buf[0] == 0 && z->subscriptions > 0)
            z->subscriptions--;
        if (n > 0 && (buf[0] == 1 || buf[0] == 0))
            lh_log(LH_LOG_DEBUG, "zmq-pub", "%s '%.*s'", buf[0] ? "subscribe" : "unsubscribe",
                   n - 1 < (int)sizeof(buf) - 1 ? n - 1 : (int)sizeof(buf) - 1, buf + 1);
    }
    return 0; /* subscriptions are not messages */
}

static int
zpub_publish(void *vctx, int64_t seq, const lh_correlated_t *ca, const void *payload, size_t len)
{
    zpub_t *z = vctx;
    char topic[512];
    /* With nobody subscribed the alert would vanish: keep it in the outbox (the hub retries
     * every second), so a backlog from before a restart reaches the first subscriber. */
    if (z->subscriptions == 0)
        return LH_EAGAIN;
    int tl = snprintf(topic, sizeof(topic), "alert.%s.%s", ca->environment ? ca->environment : "",
                      ca->service ? ca->service : "");
    if (tl < 0 || tl >= (int)sizeof(topic))
        tl = (int)sizeof(topic) - 1;
    /* lossy XPUB: a full subscriber queue drops for that subscriber inside zmq_send, which
     * still succeeds; it fails only when the socket itself cannot send, and then the alert was
     * sent to nobody: not published, offered again */
    if (zmq_send(z->sock, topic, (size_t)tl, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(z->sock, payload, len, ZMQ_DONTWAIT) < 0) {
        lh_hub_count(z->hub, LH_COUNT_ALERTS_PUB_DROPPED, 1);
        lh_log_ratelimited("pub-drop", LH_LOG_WARN, "zmq-pub",
                           "alert seq %lld not sent (%s); offered again", (long long)seq,
                           zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    return 0;
}

static void
zpub_destroy(void *vctx)
{
    zpub_t *z = vctx;
    lh_zmq_curve_watch_close(z->sock, z->watch);
    if (z->sock)
        zmq_close(z->sock);
    free(z->endpoint);
    free(z);
}

static const lh_adapter_ops_t zpub_ops = {
    .name = "zmq-pub",
    .start = zpub_start,
    .pollitems = zpub_pollitems,
    .read = zpub_read,
    .done = NULL,
    .publish = zpub_publish,
    .tick = NULL,
    .stop = NULL,
    .destroy = zpub_destroy,
};

int
lh_zmq_pub_curve(void *ctx, const char *secret)
{
    zpub_t *z = ctx;
    char err[200];
    int rc = lh_zmq_curve_server(z->sock, secret, err, sizeof(err));
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, "zmq-pub", "%s", err);
        return rc;
    }
    return lh_zmq_curve_watch(z->zctx, z->sock, &z->watch);
}

int
lh_zmq_pub_new(void *zctx, const char *endpoint, int queue, const lh_adapter_ops_t **ops,
               void **ctx)
{
    if (queue < 1)
        return LH_EINVAL;
    zpub_t *z = calloc(1, sizeof(*z));
    if (!z)
        return LH_ENOMEM;
    z->zctx = zctx;
    z->endpoint = strdup(endpoint);
    if (!z->endpoint) {
        zpub_destroy(z);
        return LH_ENOMEM;
    }
    z->sock = zmq_socket(zctx, ZMQ_XPUB);
    if (!z->sock) {
        lh_log(LH_LOG_ERROR, "zmq-pub", "zmq_socket: %s", zmq_strerror(zmq_errno()));
        zpub_destroy(z);
        return LH_ETRANSPORT;
    }
    int one = 1, linger = 1000, hwm = queue;
    /* ZMQ_XPUB_VERBOSER passes every subscribe/unsubscribe up, so the count stays right. No
     * ZMQ_XPUB_NODROP: see the top of this file. */
    const struct {
        int opt;
        const int *v;
    } sets[] = {
        {ZMQ_XPUB_VERBOSER, &one},
        {ZMQ_LINGER, &linger},
        {ZMQ_SNDHWM, &hwm},
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        if (zmq_setsockopt(z->sock, sets[i].opt, sets[i].v, sizeof(int)) != 0) {
            lh_log(LH_LOG_ERROR, "zmq-pub", "zmq_setsockopt(%d): %s", sets[i].opt,
                   zmq_strerror(zmq_errno()));
            zpub_destroy(z);
            return LH_ETRANSPORT;
        }
    }
    *ops = &zpub_ops;
    *ctx = z;
    return 0;
}
