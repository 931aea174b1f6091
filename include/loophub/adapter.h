/*
 * adapter.h - the one interface every transport implements (ZeroMQ, Kafka, HTTP).
 *
 * An adapter sees only the public headers (include/loophub/): this one, hub.h for what it
 * hands over (lh_hub_submit()), and the data types they name. It never decodes a payload
 * format: it gives the hub the bytes as they arrived, with the transport's headers when it has
 * any (HTTP request headers, Kafka message headers), and the hub's codec decides (including
 * CloudEvents binary mode, from ce-* / ce_* headers).
 *
 * The hub is a single-threaded reactor. An adapter hands it poll items (ZeroMQ sockets or plain
 * fds); when one is ready the hub calls read(), which drains what is there (at most budget
 * messages, never blocking) and passes each message to lh_hub_submit(). After the batch holding
 * a message is committed, the hub calls done() with one ack per event the message carried, so
 * the adapter can acknowledge durably stored data (ROUTER reply, Kafka offset store, HTTP
 * response). Output adapters get publish() for each outbox alert.
 *
 * Sinks: the hub keeps each sink's done marks in the store under its name, so the name must stay
 * the same from one run to the next ("zmq-pub", "kafka": LH_ZMQ_PUB_SINK, LH_KAFKA_OUT_SINK).
 * Any number of sinks deliver the same outbox, each on its own: an alert slow or failing on one
 * sink never holds back or repeats it on another. A sink name new to a store starts at the
 * oldest alert of its outbox (it delivers the history it missed).
 *
 * Blocking rules: no op may block. read() returns when the socket would block or the budget is
 * spent; publish() queues or drops, never waits. Every op runs on the hub's thread.
 */
#ifndef LOOPHUB_ADAPTER_H
#define LOOPHUB_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/buf.h"
#include "loophub/correlated.h"
#include "loophub/event.h"

typedef struct lh_hub lh_hub_t;
typedef struct lh_adapter lh_adapter_t;

/* One thing the hub polls for an adapter. Laid out exactly like zmq_pollitem_t (the hub checks
 * this at compile time and hands the array to zmq_poll() as is), so a ZeroMQ socket goes in
 * socket (fd ignored) and a plain file descriptor in fd with socket NULL. events is what to wait
 * for (LH_POLLIN, LH_POLLOUT, the same bits as ZMQ_POLLIN/ZMQ_POLLOUT); revents is set by the
 * hub's poll. Adapters need not include <zmq.h> to fill one. */
typedef struct lh_pollitem {
    void *socket;
    int fd;
    short events;
    short revents;
} lh_pollitem_t;

#define LH_POLLIN 1
#define LH_POLLOUT 2

typedef enum {
    LH_ACK_OK = 0,
    LH_ACK_DUPLICATE = 1,
    LH_ACK_REJECTED = 2,
    LH_ACK_IGNORED = 3, /* read and deliberately not stored (a webhook's ping), not an error */
} lh_ack_status_t;

/* The hub's verdict on one event of a message. Strings live until done() returns. */
typedef struct lh_ack {
    const char *id; /* NULL when the id could not be read */
    lh_ack_status_t status;
    const char *why; /* the reason, for LH_ACK_REJECTED and LH_ACK_IGNORED */
    int err;         /* LH_ACK_REJECTED: the LH_E* code (LH_EAUTH: a signature that failed) */
} lh_ack_t;

typedef struct lh_adapter_ops {
    const char *name; /* "zmq-pull", "kafka-in", ... */
    /* Optional: bind / connect / start, from lh_hub_start_adapters(). 0 or LH_E* (the message
     * is logged by the adapter). Without it the adapter counts as started right away there. */
    int (*start)(void *ctx, lh_hub_t *hub);
    /* Fills at most max poll items; returns how many (0: nothing to poll). Called once per loop
     * turn, so items may change between turns. */
    int (*pollitems)(void *ctx, lh_pollitem_t *items, int max);
    /* One of this adapter's items is ready: read at most budget messages without blocking,
     * each through lh_hub_submit() (hub.h). Returns messages read, or LH_E* on a fatal error. */
    int (*read)(void *ctx, int budget);
    /* After commit: the verdicts for the message submitted with token. */
    void (*done)(void *ctx, void *token, const lh_ack_t *acks, size_t n);
    /* Output: publish one committed alert (already encoded for this sink in payload). Returns 0
     * when it is out (the hub marks it done); LH_PENDING (positive, not an error) when it is
     * accepted and the adapter reports the outcome later through lh_hub_alert_done() or
     * lh_hub_alert_failed() (asynchronous delivery); LH_EAGAIN when it cannot take the alert
     * now (full local queue, no subscriber); LH_PUBLISH_UNSENT (positive) when the sink let it
     * go without sending it to anyone (every subscriber that wanted it had a full queue, or none
     * wanted it): the hub marks it done but does not count it published; or another LH_E* (e.g.
     * LH_ETRANSPORT, the native message logged). On any negative return nothing was taken and
     * the hub offers the alert again on a later turn. */
    int (*publish)(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *payload,
                   size_t len);
    /* Called every loop turn with the monotonic time (timers, delivery reports). */
    void (*tick)(void *ctx, int64_t now_mono_ns);
    /* Stop taking input (shutdown begins); outputs keep working until destroy. */
    void (*stop)(void *ctx);
    /* Frees everything; ctx is gone afterwards. */
    void (*destroy)(void *ctx);
    /* Optional. The hub gives back a token whose message was never committed (the hub was
     * destroyed while the store refused the batch): free it and acknowledge nothing, so a
     * reliable sender sends again. Called instead of done(), before destroy(). */
    void (*forget)(void *ctx, void *token);
    /* Optional: this adapter's own health for lh_hub_health() (hub.h): LH_HEALTH_OK, or
     * LH_HEALTH_STARTING / LH_HEALTH_DEGRADED with a one-line reason in why (say "brokers
     * unreachable"), which the hub prefixes with the adapter's name. Cheap and non-blocking: it
     * runs on every health request. */
    int (*health)(void *ctx, char *why, size_t whylen);
    /* Non-zero: the hub keeps polling this adapter (pollitems, read, tick) while intake is paused
     * because the store cannot commit, so that it can answer what is no write (HTTP /healthz,
     * /metrics). Its read() must then submit nothing: lh_hub_intake_paused() (hub.h) says when. */
    int serves_while_paused;
    /* Optional: metric families of the adapter's own whose label values are not known in advance
     * (say one series per connected peer, bounded by the adapter), in the Prometheus text format
     * (HELP and TYPE lines, then the samples), appended to /metrics after the hub's. Returns 0
     * or LH_ENOMEM. */
    int (*metrics)(void *ctx, lh_buf_t *out);
    /* Optional, for outputs that tell of events rather than alerts (PagerDuty's change events):
     * each event a batch stored (new ones, not duplicates), in order, right after the commit. It
     * must not block (queue or drop), and it is best effort: unlike alerts, nothing of it is
     * kept in the store for a later run. */
    void (*stored)(void *ctx, const lh_event_t *ev);
    /* Optional, for sinks: its own state as one JSON object appended to out (GET /v1/sinks,
     * `loophub sinks`: say its receiver, deliveries and last error). 0 or LH_ENOMEM. */
    int (*describe)(void *ctx, lh_buf_t *out);
} lh_adapter_ops_t;

/* publish()'s "done, but sent to no one" (see publish above). */
#define LH_PUBLISH_UNSENT 2

/* The states lh_hub_health() and the health op report. */
#define LH_HEALTH_OK 0
#define LH_HEALTH_STARTING 1
#define LH_HEALTH_DEGRADED 2

/* Registers an adapter with the hub; the hub owns ctx from now on (destroy() frees it).
 * sink: for an output adapter (ops->publish set), the sink name its done marks are kept under
 * (1..64 of A-Z a-z 0-9 . _ : -, one adapter per name); NULL for an adapter that is no sink.
 * Returns 0, or LH_ENOMEM, LH_EINVAL (bad or repeated sink name, a sink without publish) or
 * LH_ESTORE, and then destroy() has been called. */
int lh_hub_add_adapter(lh_hub_t *hub, const lh_adapter_ops_t *ops, void *ctx, const char *sink);

/* The adapter registered with ctx: the handle an input passes as lh_submit_t.from, and an
 * asynchronous output as lh_hub_alert_done/failed's sink. NULL when ctx is not registered. Call
 * it in start(). */
lh_adapter_t *lh_hub_adapter_of(lh_hub_t *hub, void *ctx);

/* For asynchronous outputs: alert seq has been delivered on sink (it is marked done in the
 * store), or has failed for good this time (the hub offers it again later, on that sink only).
 * sink is the adapter's own handle, lh_hub_adapter_of(hub, ctx), taken once in start(): the
 * hub finds the sink's state from it in constant time (a delivery report costs no name lookup).
 * A handle that is NULL or no sink's is ignored. */
void lh_hub_alert_done(lh_hub_t *hub, lh_adapter_t *sink, int64_t seq);
void lh_hub_alert_failed(lh_hub_t *hub, lh_adapter_t *sink, int64_t seq);

/* An output became able to publish again (e.g. a first subscriber): look at the outbox now. */
void lh_hub_outbox_kick(lh_hub_t *hub);

/* Commits the batch in hand now and calls done() for its messages (e.g. before a Kafka
 * partition is given up). Returns 0, or LH_ESTORE when the commit failed (nothing was acked). */
int lh_hub_flush(lh_hub_t *hub);

/* The hub-wide counters an adapter may count (the names, help texts and the rest of /metrics are
 * the hub's registry, hub/metrics.c). */
typedef enum {
    LH_COUNT_ALERTS_PUB_DROPPED,   /* loophub_alerts_pub_dropped_total: PUB could not send */
    LH_COUNT_ZMQ_BAD_ENVELOPE,     /* loophub_zmq_router_bad_envelope_total */
    LH_COUNT_ZMQ_ACKS_DROPPED,     /* loophub_zmq_router_acks_dropped_total */
    LH_COUNT_KAFKA_PRODUCE_ERRORS, /* loophub_kafka_produce_errors_total */
    LH_COUNT_KAFKA_CONSUME_ERRORS, /* loophub_kafka_consume_errors_total */
    LH_COUNT_HTTP_SLOW_CLOSED,     /* loophub_http_slow_closed_total */
    LH_COUNT_ZMQ_CURVE_REFUSED,    /* loophub_zmq_curve_refused_total: ZAP said no */
    LH_COUNT_ZMQ_PUB_CONNECTIONS,  /* loophub_zmq_pub_connections (a gauge: +1 / -1) */
    LH_COUNT_ZMQ_PUB_STALLED,      /* loophub_zmq_pub_stalled_subscribers (a gauge: +1 / -1) */
    LH_COUNT_ZMQ_PUB_STALLS,       /* loophub_zmq_pub_stalls_total */
    LH_COUNT__COUNT
} lh_count_t;

/* Counts what by delta (an array add: fine per message); a gauge among them moves by +1 / -1.
 * Unknown values are ignored. */
void lh_hub_count(lh_hub_t *hub, lh_count_t what, int64_t delta);

/* Counts one HTTP response in loophub_http_responses_total{code}: the codes the HTTP adapter
 * answers with have their own series, any other code counts as code="other". */
void lh_hub_count_http_response(lh_hub_t *hub, unsigned code);

#endif
