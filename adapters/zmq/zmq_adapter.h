/*
 * zmq_adapter.h - ZeroMQ transports: PULL (fire and forget), ROUTER (acked after commit),
 * SUB (connect to existing publishers) for input; XPUB for correlated alerts.
 *
 * Input payloads: the last frame of a message is the payload (earlier frames, e.g. a publisher's
 * topic, are ignored). ROUTER protocol, after the peer identity: an optional empty delimiter
 * (REQ peers), then either [payload] or [tag][payload]. The reply, after the batch holding the
 * message is committed, is [delimiter if any][tag][id 1][status 1][id 2][status 2]...: one
 * id/status pair per event the payload carried, status "ok", "duplicate" or
 * "rejected: <reason>" (the id frame is empty when the id could not be read). A message of
 * another shape (no payload, more than [tag][payload]) is rejected the same way: counted,
 * quarantined and answered [delimiter if any][empty tag][empty id]["rejected: bad envelope..."].
 *
 * Alerts: two frames, topic "alert.<environment>.<service>" then the encoded alert. The socket
 * is an XPUB with a bounded queue per subscriber: a subscriber whose queue is full loses the
 * alert, alone (every alert carries its seq, so it sees the gap); see zmq_pub.c. The same alerts,
 * with exact counts of what each subscriber lost, on the subscription endpoint (a ROUTER whose
 * clients subscribe by message, zmq_subs.c, which documents the protocol).
 */
#ifndef LOOPHUB_ZMQ_ADAPTER_H
#define LOOPHUB_ZMQ_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/adapter.h"

/* Intake sockets take frames of at most the hub's --max-payload plus this (ZMQ_MAXMSGSIZE):
 * room for CURVE's per-message box and nonce. A peer that sends a larger frame is disconnected
 * by libzmq; a message between the limit and the slack reaches the hub and is rejected as
 * too_big, with only a sample of it quarantined. */
#define LH_ZMQ_FRAME_SLACK 1024

typedef enum {
    LH_ZMQ_PULL = 0,
    LH_ZMQ_ROUTER = 1,
    LH_ZMQ_SUB = 2,
} lh_zmq_in_kind_t;

/* An input adapter. endpoints: one bind endpoint for PULL/ROUTER; one or more connect endpoints
 * for SUB. zctx is the process's ZMQ context (not owned). Returns 0 with *ops and *ctx set for
 * lh_hub_add_adapter(), or LH_ENOMEM / LH_ETRANSPORT. Binding happens in start(). */
int lh_zmq_in_new(void *zctx, lh_zmq_in_kind_t kind, const char *const *endpoints, size_t n,
                  const lh_adapter_ops_t **ops, void **ctx);

/* Makes the PULL or ROUTER adapter ctx (from lh_zmq_in_new, before lh_hub_add_adapter) a CURVE
 * server with the Z85 secret key (zmq_curve.h): only clients the ZAP handler admits get in.
 * Returns 0, LH_EINVAL for a SUB adapter (the hub is the client there) or LH_ETRANSPORT
 * (logged). */
int lh_zmq_in_curve(void *ctx, const char *secret);

/* The sink name of the alerts publisher: its done marks in the store are kept under it (the
 * pub_done column of schema version 2 became this sink), so it never changes. */
#define LH_ZMQ_PUB_SINK "zmq-pub"

/* The alerts publisher (register with sink LH_ZMQ_PUB_SINK), bound in start(); queue: alerts
 * queued per subscriber at most (ZMQ_SNDHWM, >= 1, else LH_EINVAL). */
int lh_zmq_pub_new(void *zctx, const char *endpoint, int queue, const lh_adapter_ops_t **ops,
                   void **ctx);

/* The same for the alerts publisher's ctx (lh_zmq_pub_new). */
int lh_zmq_pub_curve(void *ctx, const char *secret);

/* The subscription endpoint's sink name (done marks in the store): never changes. */
#define LH_ZMQ_SUBS_SINK "zmq-subs"

typedef struct {
    const char *endpoint; /* bind endpoint */
    int queue;            /* messages queued per subscriber at most (ZMQ_SNDHWM), >= 1 */
    int max_peers;        /* subscribers known at most, >= 1; more are refused */
    int64_t idle_ns;      /* a subscriber silent this long is forgotten, > 0 */
} lh_zmq_subs_opts_t;

/* The subscription endpoint (register with sink LH_ZMQ_SUBS_SINK), bound in start(). Returns 0
 * with *ops and *ctx set, LH_EINVAL (an option out of range), LH_ENOMEM or LH_ETRANSPORT. */
int lh_zmq_subs_new(void *zctx, const lh_zmq_subs_opts_t *o, const lh_adapter_ops_t **ops,
                    void **ctx);

/* Makes the subscription endpoint's ctx a CURVE server (as lh_zmq_pub_curve). */
int lh_zmq_subs_curve(void *ctx, const char *secret);

#endif
