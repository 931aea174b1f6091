/*
 * hub.h - the hub: a single-threaded reactor that owns the store and the correlator.
 *
 * One loop turn: zmq_poll over every adapter's items; drain what is ready into the batch
 * (bounded by batch_max events and batch_ms milliseconds); commit the batch in one SQLite
 * transaction (insert, dedupe, correlate, write the outbox, and mark the alerts published since
 * the last batch); then acknowledge (adapters' done()) and publish the outbox to the output
 * adapters. Nothing is acknowledged before it is durable.
 * When a commit fails (disk full, I/O error) the batch is kept, intake pauses and the commit is
 * retried every second; nothing is acknowledged meanwhile.
 */
#ifndef LOOPHUB_HUB_H
#define LOOPHUB_HUB_H

#include <stdint.h>

#include "correlator.h"
#include "loophub/adapter.h"
#include "loophub/format.h"
#include "store.h"

typedef struct lh_hub_opts {
    const char *db_path;
    lh_store_opts_t store;
    lh_correlator_opts_t corr;
    lh_codec_opts_t codec;
    lh_limits_t limits;
    int batch_max;                    /* events per transaction (default 2000) */
    int batch_ms;                     /* longest a turn keeps draining input (default 10) */
    lh_alerts_format_t alerts_format; /* encoding for output adapters */
} lh_hub_opts_t;

void lh_hub_opts_default(lh_hub_opts_t *o);

/* Opens the store and the correlator. Returns 0 and *out, or the store's/correlator's error
 * (already logged). */
int lh_hub_new(const lh_hub_opts_t *o, lh_hub_t **out);

/* Runs the loop until lh_hub_request_stop(); then stops intake, commits what is in hand,
 * publishes the outbox and returns 0 (or LH_E* on a fatal error). Adapters must be added and
 * started before (lh_hub_start_adapters). */
int lh_hub_run(lh_hub_t *hub);

/* Starts every registered adapter. Returns 0 or the first error (logged). */
int lh_hub_start_adapters(lh_hub_t *hub);

/* Async-signal-safe: asks the loop to stop. */
void lh_hub_request_stop(lh_hub_t *hub);

/* Destroys adapters, correlator and store; *hub becomes NULL. */
void lh_hub_destroy(lh_hub_t **hub);

/* One loop turn with the given poll timeout (tests and benchmarks drive the hub this way).
 * Returns the number of events committed, or LH_E*. */
int lh_hub_turn(lh_hub_t *hub, int timeout_ms);

lh_store_t *lh_hub_store(lh_hub_t *hub);
const lh_hub_opts_t *lh_hub_opts(lh_hub_t *hub);

/* Writes the hub's counters in Prometheus text format. */
int lh_hub_metrics(lh_hub_t *hub, lh_buf_t *out);

#endif
