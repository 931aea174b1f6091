/*
 * outbox.h - the hub's side of the alert outbox: hands committed alerts to the sinks and keeps
 * their done marks (hub/outbox.c). Used by hub.c only, on the hub's thread.
 *
 * A sink is an output adapter registered under a name (lh_hub_add_adapter); its done marks in
 * the store are keyed by that name (store.h), so any number of sinks deliver the same outbox
 * independently, each from where it stopped. Per sink, in memory, grown at registration:
 *  - a cursor: the last alert handed over in this run; it only moves forward, so an asynchronous
 *    sink (Kafka) is never fed an alert twice while it is in flight;
 *  - a retry list: alerts at or below the cursor whose asynchronous delivery failed, each
 *    offered again once, on that sink only.
 * Done marks are not written on their own: they wait in one list (sink, seq) and ride in the
 * hub's next batch transaction (lh_outbox_apply_done() right after its BEGIN,
 * lh_outbox_done_committed() once it committed). When no batch commits within a second, when
 * the list reaches 4096 marks, and at shutdown they get a small transaction of their own
 * (lh_outbox_flush_done). A mark lost to a crash only re-publishes that alert, with the same id,
 * after a restart (README.md, Delivery guarantees: PUB is lossy, Kafka at-least-once).
 */
#ifndef LOOPHUB_OUTBOX_H
#define LOOPHUB_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/adapter.h"
#include "loophub/buf.h"
#include "loophub/format.h"
#include "metrics.h"
#include "store.h"

typedef struct lh_outbox lh_outbox_t;

/* An outbox over st (alerts published are counted in metrics); alerts are encoded in
 * fmt for the sinks. Returns 0 and *out, or LH_ENOMEM. */
int lh_outbox_new(lh__metrics_t *metrics, lh_store_t *st, lh_alerts_format_t fmt,
                  lh_outbox_t **out);

/* Frees the outbox (marks still listed are lost: lh_outbox_flush_done() first). NULL-safe. */
void lh_outbox_destroy(lh_outbox_t **ob);

/* Adds the sink name, delivered through ops->publish(ctx, ...) once lh_outbox_sink_started()
 * says so; its done marks are looked up or created in the store. Returns the sink's index
 * (>= 0, what the other calls take), LH_EINVAL (bad name, a name registered twice, no
 * publish op), LH_ENOMEM or LH_ESTORE. */
int lh_outbox_add_sink(lh_outbox_t *ob, const char *name, const lh_adapter_ops_t *ops, void *ctx);
void lh_outbox_sink_started(lh_outbox_t *ob, int sink);

/* Inside the hub's open batch transaction: writes the marks waiting; *n gets how many. Returns 0
 * or LH_ESTORE (the transaction must be rolled back; the marks stay listed). */
int lh_outbox_apply_done(lh_outbox_t *ob, size_t *n);
/* The transaction holding the first n marks committed: they leave the list. */
void lh_outbox_done_committed(lh_outbox_t *ob, size_t n);
/* Writes the waiting marks in a transaction of their own. Returns 0 or LH_ESTORE (they stay
 * listed and are tried again after a second). */
int lh_outbox_flush_done(lh_outbox_t *ob);
/* Once a loop turn, when the store is writable: flushes the marks when they waited too long. */
void lh_outbox_tick(lh_outbox_t *ob, int64_t now_mono_ns);

/* New alerts were committed, or a sink can take alerts again: look at the outbox next time. */
void lh_outbox_kick(lh_outbox_t *ob);
/* Offers the retries and the alerts past each started sink's cursor, when kicked or once a
 * second. */
void lh_outbox_publish(lh_outbox_t *ob);

/* An asynchronous sink's report on alert seq: delivered (listed done), or failed (offered again
 * on that sink only). */
void lh_outbox_alert_done(lh_outbox_t *ob, int sink, int64_t seq);
void lh_outbox_alert_failed(lh_outbox_t *ob, int sink, int64_t seq);

/* Calls fn with each sink's name and its backlog (alerts not yet delivered to it; a sink whose
 * backlog cannot be read is left out). For health reports. */
typedef void (*lh_outbox_pending_fn)(const char *sink, int64_t pending, void *arg);
void lh_outbox_each_pending(lh_outbox_t *ob, lh_outbox_pending_fn fn, void *arg);
/* The name of sink index sink (lh_outbox_add_sink's answer), NULL when there is none. */
const char *lh_outbox_sink_name(const lh_outbox_t *ob, int sink);

/* Appends the family loophub_outbox_sink_pending{sink} (HELP, TYPE, one sample per sink) in
 * Prometheus text format, and gives the largest backlog in *most. Returns 0 or LH_ENOMEM. */
int lh_outbox_metrics(lh_outbox_t *ob, lh_buf_t *out, int64_t *most);

#endif
