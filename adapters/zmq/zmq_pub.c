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
 * subscriber's seq is the record. What the hub can see is which subscriber has stopped reading:
 * a watch on the socket's connections and, once a second, each TCP connection's state (the
 * peer's receive window closed with data waiting: it does not read, so it loses alerts once its
 * queue is full). That is logged with the peer's address and the last seq sent, and counted
 * (loophub_zmq_pub_stalled_subscribers, loophub_zmq_pub_stalls_total).
 *
 * While no subscriber is connected at all, alerts wait in the outbox instead of vanishing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_snd_wnd, TCP_INFO */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "zmq_adapter.h"
#include "zmq_curve.h"

#define STALL_CHECK_NS LH_NS_PER_SEC

typedef struct {
    int fd; /* libzmq's, only looked at (TCP_INFO) */
    int stalled;
    char addr[64];
} peer_t;

typedef struct {
    void *zctx;
    void *sock;
    void *watch; /* connections and, with CURVE, failed handshakes (zmq_curve.h) */
    int curve;
    char *endpoint;
    int queue;
    lh_hub_t *hub;
    long subscriptions; /* live subscriptions seen on the XPUB socket */
    peer_t *peers;      /* connected peers */
    size_t n_peers, cap_peers;
    int64_t check_at; /* mono ns: next look at the peers' TCP state */
    int64_t last_seq; /* of the alert sent last */
} zpub_t;

static void
peer_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    snprintf(buf, len, "fd %d", fd);
    if (getpeername(fd, (struct sockaddr *)&sa, &sl) != 0)
        return;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    } else {
        return; /* ipc:// and the like: no TCP state to look at */
    }
    snprintf(buf, len, "%s:%d", ip, port);
}

/* A peer came or went (the watch's ACCEPTED / DISCONNECTED, value the fd). */
static void
on_event(void *arg, int id, uint32_t value)
{
    zpub_t *z = arg;
    int fd = (int)value;
    if (id == ZMQ_EVENT_ACCEPTED) {
        if (z->n_peers == z->cap_peers) {
            size_t cap = z->cap_peers ? z->cap_peers * 2 : 8;
            peer_t *v = realloc(z->peers, cap * sizeof(*v));
            if (!v)
                return; /* this peer goes unwatched: only its stalls are not seen */
            z->peers = v;
            z->cap_peers = cap;
        }
        peer_t *p = &z->peers[z->n_peers++];
        p->fd = fd;
        p->stalled = 0;
        peer_address(fd, p->addr, sizeof(p->addr));
        lh_hub_count(z->hub, LH_COUNT_ZMQ_PUB_CONNECTIONS, 1);
        return;
    }
    for (size_t i = 0; id == ZMQ_EVENT_DISCONNECTED && i < z->n_peers; i++) {
        if (z->peers[i].fd != fd)
            continue;
        if (z->peers[i].stalled) {
            lh_hub_count(z->hub, LH_COUNT_ZMQ_PUB_STALLED, -1);
            lh_log(LH_LOG_INFO, "zmq-pub", "subscriber %s left while it was not reading",
                   z->peers[i].addr);
        }
        lh_hub_count(z->hub, LH_COUNT_ZMQ_PUB_CONNECTIONS, -1);
        z->peers[i] = z->peers[--z->n_peers];
        return;
    }
}

/* Whether the peer on fd does not read: its receive window is closed while data waits for it.
 * -1 when the kernel cannot say (not TCP). The fd is libzmq's: a peer gone a moment ago may have
 * had its number reused before its DISCONNECTED event is read, which costs one wrong look. */
static int
peer_stalled(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(ti.tcpi_snd_wnd))
        return -1;
    return ti.tcpi_snd_wnd == 0 && ti.tcpi_notsent_bytes > 0;
}

static void
zpub_tick(void *vctx, int64_t now)
{
    zpub_t *z = vctx;
    if (now < z->check_at)
        return;
    z->check_at = now + STALL_CHECK_NS;
    for (size_t i = 0; i < z->n_peers; i++) {
        peer_t *p = &z->peers[i];
        int st = peer_stalled(p->fd);
        if (st < 0 || st == p->stalled)
            continue;
        p->stalled = st;
        lh_hub_count(z->hub, LH_COUNT_ZMQ_PUB_STALLED, st ? 1 : -1);
        if (st) {
            lh_hub_count(z->hub, LH_COUNT_ZMQ_PUB_STALLS, 1);
            lh_log(LH_LOG_WARN, "zmq-pub",
                   "subscriber %s stopped reading (last alert sent: seq %lld): once its queue "
                   "of %d is full it loses alerts, alone, and sees the gap in seq",
                   p->addr, (long long)z->last_seq, z->queue);
        } else {
            lh_log(LH_LOG_INFO, "zmq-pub", "subscriber %s reads again (last alert sent: seq %lld)",
                   p->addr, (long long)z->last_seq);
        }
    }
}

static int
zpub_start(void *vctx, lh_hub_t *hub)
{
    zpub_t *z = vctx;
    z->hub = hub;
    /* before bind: no connection goes unseen */
    int rc = lh_zmq_watch(z->zctx, z->sock,
                          ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                              (z->curve ? LH_ZMQ_WATCH_REFUSALS : 0),
                          &z->watch);
    if (rc < 0)
        return rc;
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
    lh_zmq_watch_read(z->watch, z->hub, "zmq-pub", on_event, z);
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
    z->last_seq = seq;
    return 0;
}

static void
zpub_destroy(void *vctx)
{
    zpub_t *z = vctx;
    lh_zmq_watch_close(z->sock, z->watch);
    free(z->peers);
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
    .tick = zpub_tick,
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
    z->curve = 1; /* its watch, made in start(), takes the refused handshakes too */
    return 0;
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
    z->queue = queue;
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
