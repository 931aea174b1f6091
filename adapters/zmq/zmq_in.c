/*
 * zmq_in.c - ZeroMQ input adapters: PULL, ROUTER (acked) and SUB. See zmq_adapter.h for the wire
 * rules. Reads never block (ZMQ_DONTWAIT); a ROUTER reply is sent only from done(), i.e. after the
 * commit, and is dropped (counted) if the peer is gone or at its high-water mark.
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

#define MAX_FRAMES 8

typedef struct {
    lh_zmq_in_kind_t kind;
    void *zctx;
    void *sock;
    void *watch; /* CURVE: failed handshakes (zmq_curve.h) */
    char **endpoints;
    size_t n_endpoints;
    lh_hub_t *hub;
    lh_adapter_t *self;
    const char *origin;
    int stopped;
} zin_t;

typedef struct {
    zmq_msg_t identity;
    int delimiter;
    size_t tag_len;
    char tag[];
} rtoken_t;

static const char *const kind_names[] = {"zmq-pull", "zmq-router", "zmq-sub"};

static int
zin_start(void *vctx, lh_hub_t *hub)
{
    zin_t *z = vctx;
    z->hub = hub;
    z->self = lh_hub_adapter_of(hub, z);
    /* libzmq refuses a larger frame while decoding it (and drops that peer's connection), so a
     * flood of huge messages costs neither memory nor a copy: the limit holds before the hub
     * sees a byte. The slack lets a payload at the limit through with CURVE's box around it. */
    int64_t maxmsg = (int64_t)lh_hub_opts(hub)->limits.max_payload + LH_ZMQ_FRAME_SLACK;
    if (zmq_setsockopt(z->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0) {
        lh_log(LH_LOG_ERROR, z->origin, "zmq_setsockopt(MAXMSGSIZE): %s",
               zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    for (size_t i = 0; i < z->n_endpoints; i++) {
        int rc = z->kind == LH_ZMQ_SUB ? zmq_connect(z->sock, z->endpoints[i])
                                       : zmq_bind(z->sock, z->endpoints[i]);
        if (rc != 0) {
            lh_log(LH_LOG_ERROR, z->origin, "cannot %s %s: %s",
                   z->kind == LH_ZMQ_SUB ? "connect to" : "bind", z->endpoints[i],
                   zmq_strerror(zmq_errno()));
            return LH_ETRANSPORT;
        }
        lh_log(LH_LOG_INFO, z->origin, "%s %s", z->kind == LH_ZMQ_SUB ? "subscribed to" : "bound",
               z->endpoints[i]);
    }
    return 0;
}

static int
zin_pollitems(void *vctx, lh_pollitem_t *items, int max)
{
    zin_t *z = vctx;
    if (max < 1 || z->stopped)
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

/* Receives one whole multipart message into frames (at most MAX_FRAMES kept; extra frames are
 * received and dropped). Returns the number of frames, 0 when nothing is waiting, LH_ETRANSPORT
 * on error (zmq_errno() says why; the caller logs it). */
static int
recv_message(void *sock, zmq_msg_t *frames, int *dropped)
{
    int n = 0;
    int more = 1;
    *dropped = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            return zmq_errno() == EAGAIN && n == 0 ? 0 : LH_ETRANSPORT;
        }
        more = zmq_msg_more(&m);
        if (n < MAX_FRAMES) {
            frames[n++] = m;
        } else {
            zmq_msg_close(&m);
            (*dropped)++;
        }
    }
    return n;
}

static int
zin_read(void *vctx, int budget)
{
    zin_t *z = vctx;
    int got = 0;
    zmq_msg_t f[MAX_FRAMES];
    lh_zmq_watch_read(z->watch, z->hub, z->origin, NULL, NULL);
    while (got < budget && !z->stopped) {
        int dropped;
        int n = recv_message(z->sock, f, &dropped);
        if (n == 0)
            break;
        if (n < 0) {
            if (zmq_errno() == EINTR || zmq_errno() == EAGAIN)
                break;
            lh_log_ratelimited("zmq-recv", LH_LOG_ERROR, z->origin, "receive: %s",
                               zmq_strerror(zmq_errno()));
            break;
        }
        got++;
        if (z->kind != LH_ZMQ_ROUTER) {
            zmq_msg_t *p = &f[n - 1];
            lh_submit_t s = {.from = z->self,
                             .origin = z->origin,
                             .data = zmq_msg_data(p),
                             .len = zmq_msg_size(p)};
            lh_hub_submit(z->hub, &s);
        } else {
            /* [identity][delimiter?][tag?][payload] */
            int k = 1;
            int delim = 0;
            if (n >= 3 && zmq_msg_size(&f[1]) == 0) {
                delim = 1;
                k = 2;
            }
            int parts = n - k;
            int bad = parts < 1 || parts > 2 || dropped;
            size_t tag_len = !bad && parts == 2 ? zmq_msg_size(&f[k]) : 0;
            rtoken_t *t = malloc(sizeof(*t) + tag_len + 1);
            if (!t) {
                for (int i = 0; i < n; i++)
                    zmq_msg_close(&f[i]);
                return LH_ENOMEM;
            }
            zmq_msg_init(&t->identity);
            zmq_msg_move(&t->identity, &f[0]);
            t->delimiter = delim;
            t->tag_len = tag_len;
            if (tag_len)
                memcpy(t->tag, zmq_msg_data(&f[k]), tag_len);
            t->tag[tag_len] = 0;
            zmq_msg_t *p = &f[n - 1];
            lh_submit_t s = {.from = z->self,
                             .origin = z->origin,
                             .data = zmq_msg_data(p),
                             .len = zmq_msg_size(p),
                             .token = t};
            char why[160];
            if (bad) {
                /* answered like any rejection (a REQ peer would wait forever otherwise),
                 * counted and quarantined with the last frame */
                snprintf(why, sizeof(why),
                         "bad envelope: %d frames%s after the identity; expected [tag] payload "
                         "(after an empty delimiter for REQ peers)",
                         n - 1 + dropped, delim ? " (delimiter included)" : "");
                lh_hub_count(z->hub, LH_COUNT_ZMQ_BAD_ENVELOPE, 1);
                s.reject = why;
                if (n < 2) { /* only the identity: nothing to quarantine */
                    s.data = NULL;
                    s.len = 0;
                }
            }
            if (lh_hub_submit(z->hub, &s) < 0) {
                /* the hub kept nothing of the message: it will not call done() */
                zmq_msg_close(&t->identity);
                free(t);
            }
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
    return got;
}

/* Sends one frame without blocking. Returns 0 or LH_ETRANSPORT (an ack that cannot go out is
 * counted as dropped by the caller, not logged: a slow or gone peer is not the hub's error). */
static int
send_frame(void *sock, const void *data, size_t len, int more)
{
    return zmq_send(sock, data, len, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0 ? LH_ETRANSPORT
                                                                                  : 0;
}

static void
zin_done(void *vctx, void *token, const lh_ack_t *acks, size_t n)
{
    zin_t *z = vctx;
    rtoken_t *t = token;
    if (z->kind != LH_ZMQ_ROUTER || !t)
        return;
    int rc =
        zmq_msg_send(&t->identity, z->sock, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ? LH_ETRANSPORT : 0;
    if (rc == 0 && t->delimiter)
        rc = send_frame(z->sock, "", 0, 1);
    if (rc == 0)
        rc = send_frame(z->sock, t->tag, t->tag_len, n > 0);
    char status[600];
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *id = acks[i].id ? acks[i].id : "";
        rc = send_frame(z->sock, id, strlen(id), 1);
        if (rc)
            break;
        switch (acks[i].status) {
        case LH_ACK_OK:
            snprintf(status, sizeof(status), "ok");
            break;
        case LH_ACK_DUPLICATE:
            snprintf(status, sizeof(status), "duplicate");
            break;
        case LH_ACK_IGNORED:
            snprintf(status, sizeof(status), "ignored: %s", acks[i].why ? acks[i].why : "?");
            break;
        default:
            snprintf(status, sizeof(status), "rejected: %s", acks[i].why ? acks[i].why : "?");
        }
        rc = send_frame(z->sock, status, strlen(status), i + 1 < n);
    }
    if (rc != 0)
        lh_hub_count(z->hub, LH_COUNT_ZMQ_ACKS_DROPPED, 1);
    zmq_msg_close(&t->identity);
    free(t);
}

static void
zin_forget(void *vctx, void *token)
{
    (void)vctx;
    rtoken_t *t = token;
    if (!t)
        return;
    zmq_msg_close(&t->identity);
    free(t);
}

static void
zin_stop(void *vctx)
{
    zin_t *z = vctx;
    z->stopped = 1;
    if (z->kind == LH_ZMQ_ROUTER) {
        /* the acks of the last batch are sent after this; give them time to leave at close */
        int linger = 1000;
        if (zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0)
            lh_log(LH_LOG_WARN, z->origin, "zmq_setsockopt(LINGER): %s: the last acks may be lost",
                   zmq_strerror(zmq_errno()));
    }
}

static void
zin_destroy(void *vctx)
{
    zin_t *z = vctx;
    lh_zmq_watch_close(z->sock, z->watch);
    if (z->sock)
        zmq_close(z->sock);
    for (size_t i = 0; i < z->n_endpoints; i++)
        free(z->endpoints[i]);
    free(z->endpoints);
    free(z);
}

static const lh_adapter_ops_t zin_ops = {
    .name = "zmq-in",
    .start = zin_start,
    .pollitems = zin_pollitems,
    .read = zin_read,
    .done = zin_done,
    .publish = NULL,
    .tick = NULL,
    .stop = zin_stop,
    .destroy = zin_destroy,
    .forget = zin_forget,
};

int
lh_zmq_in_curve(void *ctx, const char *secret)
{
    zin_t *z = ctx;
    char err[200];
    if (z->kind == LH_ZMQ_SUB)
        return LH_EINVAL; /* the hub is the client there */
    int rc = lh_zmq_curve_server(z->sock, secret, err, sizeof(err));
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, z->origin, "%s", err);
        return rc;
    }
    return lh_zmq_watch(z->zctx, z->sock, LH_ZMQ_WATCH_REFUSALS, &z->watch);
}

int
lh_zmq_in_new(void *zctx, lh_zmq_in_kind_t kind, const char *const *endpoints, size_t n,
              const lh_adapter_ops_t **ops, void **ctx)
{
    static const int types[] = {ZMQ_PULL, ZMQ_ROUTER, ZMQ_SUB};
    zin_t *z = calloc(1, sizeof(*z));
    if (!z)
        return LH_ENOMEM;
    z->kind = kind;
    z->zctx = zctx;
    z->origin = kind_names[kind];
    z->endpoints = calloc(n ? n : 1, sizeof(char *));
    if (!z->endpoints) {
        free(z);
        return LH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        z->endpoints[i] = strdup(endpoints[i]);
        z->n_endpoints++;
        if (!z->endpoints[i]) {
            zin_destroy(z);
            return LH_ENOMEM;
        }
    }
    z->sock = zmq_socket(zctx, types[kind]);
    if (!z->sock) {
        lh_log(LH_LOG_ERROR, z->origin, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        zin_destroy(z);
        return LH_ETRANSPORT;
    }
    /* 10k messages queued per peer is a few batches ahead of the hub; more only costs memory
     * (benchmark: peak RSS 179 -> 136 MiB on 1M events over PULL). Acks may queue deeper. */
    int linger = 0, rcvhwm = 10000, sndhwm = 100000;
    const struct {
        int opt;
        const void *v;
        size_t len;
    } sets[] = {
        {ZMQ_LINGER, &linger, sizeof(linger)},
        {ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm)},
        {ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm)},
        {ZMQ_SUBSCRIBE, "", 0}, /* last: SUB only */
    };
    size_t n_sets = sizeof(sets) / sizeof(sets[0]) - (kind == LH_ZMQ_SUB ? 0 : 1);
    for (size_t i = 0; i < n_sets; i++) {
        if (zmq_setsockopt(z->sock, sets[i].opt, sets[i].v, sets[i].len) != 0) {
            lh_log(LH_LOG_ERROR, z->origin, "zmq_setsockopt(%d): %s", sets[i].opt,
                   zmq_strerror(zmq_errno()));
            zin_destroy(z);
            return LH_ETRANSPORT;
        }
    }
    *ops = &zin_ops;
    *ctx = z;
    return 0;
}
