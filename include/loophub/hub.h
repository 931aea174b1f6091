/*
 * hub.h - the hub as an adapter or an embedding program sees it: create, run and stop it, hand
 * it messages, read its metrics and timelines. The store and the correlator stay inside.
 *
 * The hub is a single-threaded reactor that owns the store (one SQLite file) and the correlator.
 * One loop turn: poll every adapter's items; drain what is ready into the batch (bounded by
 * batch_max events and batch_ms milliseconds); commit the batch in one SQLite transaction
 * (insert, dedupe, correlate, write the outbox); then acknowledge (adapters' done()) and publish
 * the outbox to the output adapters. Nothing is acknowledged before it is durable. When a commit
 * fails (disk full, I/O error) the batch is kept, intake pauses and the commit is retried every
 * second; nothing is acknowledged meanwhile.
 *
 * Threads: every function here runs on the thread that runs the loop (lh_hub_run/lh_hub_turn),
 * except lh_hub_request_stop(), which is async-signal-safe. Errors are LH_E* (loophub/error.h).
 */
#ifndef LOOPHUB_HUB_H
#define LOOPHUB_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/adapter.h"
#include "loophub/buf.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/report.h"
#include "loophub/timeline.h"

/* lh_hub_t (opaque) and lh_adapter_t are declared in adapter.h. */

/* What a user sets. lh_hub_opts_default() fills every field; change the ones you need. The hub
 * copies the struct (and db_path); the strings of codec must outlive the hub. */
typedef struct lh_hub_opts {
    const char *db_path;              /* the store, created when missing (default "loophub.db") */
    int synchronous_full;             /* 1 (default): SQLite synchronous=FULL; 0: NORMAL */
    int page_size;                    /* bytes, for a store created now (default 16384) */
    int64_t wal_checkpoint_bytes;     /* WAL size that starts a background checkpoint (default
                                       * 256 MiB) */
    int64_t window_ns;                /* correlation window (default 2h) */
    lh_severity_t alert_min_severity; /* alerts below it are no outcome (default error) */
    int batch_max;                    /* events per transaction (default 4000) */
    int batch_ms;                     /* longest a turn keeps draining input (default 10) */
    lh_limits_t limits;               /* payload and field limits (lh_limits_default()) */
    lh_codec_opts_t codec;            /* decoder options; codec.limits is ignored (the hub
                                       * points it at limits above) */
    lh_alerts_format_t alerts_format; /* encoding for output adapters (default protobuf) */
    int64_t group_window_ns;          /* outcomes with the same suspects this close join one
                                       * alert (default 10m; 0: never join) */
    int max_suspects;                 /* suspects an alert lists; the others are counted
                                       * (default 10, 1..1000) */
    const char *require_approved_ticket; /* environments, comma-separated, where a change needs
                                          * a ticket approved before it starts, else an
                                          * unapproved_change alert (default NULL: none) */
    int64_t dora_metrics_window_ns;      /* GET /metrics: the DORA figures of this many days back
                                          * per service and environment (default 30d; 0: none),
                                          * computed at most once a minute */
    int64_t sink_behind;                 /* a sink with more alerts than this not yet delivered
                                          * makes the hub degraded (default 1000) */
    int64_t quarantine_max_rows;         /* rejected input kept at most, oldest evicted first */
    int64_t quarantine_max_bytes;        /* (defaults 100,000 rows, 256 MiB) */
    /* Privacy scrubbing before anything is stored, quarantined, logged or published (README.md,
     * Privacy): POSIX extended regexes, case-insensitive, compiled by lh_hub_new() (a bad one
     * fails it with LH_ECONFIG, logged). Read during lh_hub_new() only. */
    int redact_defaults;            /* 1 (default): the built-in rules (secret label keys,
                                     * bearer tokens, AWS keys, URL passwords, key=value) */
    const char *const *redact_keys; /* more label-key rules: the whole value is replaced */
    size_t n_redact_keys;
    const char *const *redact_values; /* more value rules for every string but the ids: the
                                       * match, or its last group, is replaced */
    size_t n_redact_values;
    size_t quarantine_sample; /* of a message over limits.max_payload, only this many
                               * first bytes are kept in the quarantine (default 4096) */
    /* Retention (README.md, Retention): how long events of each kind are kept, by event time,
     * indexed by lh_kind_t (0: forever; defaults: changes, incidents and tickets 400 days, alerts
     * 30 days); the quarantine by time of receipt (default 7 days). Deletion runs in small steps
     * between batches. */
    int64_t retention_ns[5];
    int64_t retention_quarantine_ns;
    int64_t dedupe_horizon; /* ids held in memory: the last this many events (default 1,000,000);
                             * older duplicates are found in the store */
    int keep_original;      /* 1: store non-protobuf input as received too (default 0) */
    /* One name for one environment and one service, whatever the source spelled (README.md,
     * Sources): entries "canonical=alias,alias" (case-insensitive; the canonical name itself in
     * another case too), applied to every event before it is validated and stored. */
    const char *const *env_aliases;
    size_t n_env_aliases;
    const char *const *service_aliases;
    size_t n_service_aliases;
} lh_hub_opts_t;

void lh_hub_opts_default(lh_hub_opts_t *o);

/* Opens the store and the correlator. Returns 0 and *out (destroy it with lh_hub_destroy()), or
 * the store's/correlator's error (already logged): LH_ESTORE, LH_ESCHEMA, LH_ELOCKED (another
 * hub writes that store), LH_ENOMEM; *out is NULL then. */
int lh_hub_new(const lh_hub_opts_t *o, lh_hub_t **out);

/* The options in force (defaults resolved), owned by the hub, valid until lh_hub_destroy(). */
const lh_hub_opts_t *lh_hub_opts(lh_hub_t *hub);

/* Starts every registered adapter (lh_hub_add_adapter(), adapter.h). Returns 0 or the first
 * error (logged). */
int lh_hub_start_adapters(lh_hub_t *hub);

/* Runs the loop until lh_hub_request_stop(); then stops intake, commits what is in hand,
 * publishes the outbox and returns 0 (or LH_E* on a fatal error). Adapters must be added and
 * started before. */
int lh_hub_run(lh_hub_t *hub);

/* One loop turn with the given poll timeout (tests, benchmarks and embedding programs drive the
 * hub this way instead of lh_hub_run()). Returns the number of events committed, or LH_E*. */
int lh_hub_turn(lh_hub_t *hub, int timeout_ms);

/* Async-signal-safe: asks the loop to stop. */
void lh_hub_request_stop(lh_hub_t *hub);

/* Destroys adapters, correlator and store; *hub becomes NULL. NULL-safe. Messages never
 * committed are given back to their adapters (forget()), not acknowledged. */
void lh_hub_destroy(lh_hub_t **hub);

/* One message handed to the hub: the bytes as the transport delivered them, plus its headers
 * when the transport has any. The hub decodes (lh_codec_decode_msg(), format.h): detection or the
 * hint, and CloudEvents binary mode when the headers say so (HTTP ce-*, Kafka ce_*). Everything
 * is read during the call only: the hub copies what it keeps. */
typedef struct lh_submit {
    lh_adapter_t *from; /* the submitting adapter (lh_hub_adapter_of()); NULL for a program
                         * that submits directly: then no done() is called */
    const char *origin; /* where it came from, for logs and the quarantine ("zmq-pull",
                         * "kafka:loophub.events/3", "http:127.0.0.1:5123"); NULL: "?" */
    const void *data;   /* the payload (NULL when len is 0) */
    size_t len;
    int hint;               /* an lh_format_t; 0 (LH_FMT_AUTO): detect */
    void *token;            /* handed back to from's done(); NULL: no done() for this message */
    const lh_kv_t *headers; /* the transport's headers as they came (NULL: none) */
    size_t n_headers;
    const char *reject; /* non-NULL: the adapter rejects the message itself (say a bad
                         * envelope) with this reason: nothing is decoded; it is counted,
                         * quarantined with data and acknowledged as one rejection */
    int reject_err;     /* with reject: its LH_E* kind for the rejection metric (LH_ETOOBIG for
                         * a payload over the limit); 0: LH_EDECODE */
} lh_submit_t;

/* Hands one message to the hub. When m->from and m->token are set, from's done() is called with
 * the token after the message's batch is committed (or after its rejection is recorded), with one
 * ack per event the message held. Returns 0, or LH_ENOMEM: then the hub has kept nothing of the
 * message and done() is never called for the token (the adapter still owns it). */
int lh_hub_submit(lh_hub_t *hub, const lh_submit_t *m);

/* The hub's health, for /healthz-style probes. status is LH_HEALTH_OK, LH_HEALTH_STARTING
 * (the loop has not run its first turn, or an adapter is still starting) or LH_HEALTH_DEGRADED
 * (it takes or delivers less than it should), with one line per reason: "store full: <SQLite's
 * message>", "store read-only: ...", "store cannot commit: ..." (intake paused), "sink <name>
 * behind: N alerts not delivered" (over opts.sink_behind), "<adapter>: <why>" from an adapter's
 * health op. Degraded wins over starting. Reasons past LH_HEALTH_MAX_REASONS are counted in
 * n_more. Cheap enough for every probe; never blocks. */
#define LH_HEALTH_MAX_REASONS 8
typedef struct lh_health {
    int status;
    int n_reasons;
    int n_more;
    char reasons[LH_HEALTH_MAX_REASONS][192];
} lh_health_t;

void lh_hub_health(lh_hub_t *hub, lh_health_t *out);

/* SIGHUP: takes from o what a running hub can change and applies it between batches: the
 * correlation window, group window and alert minimum severity, the environments that need an
 * approved ticket, the redaction rules (all or nothing: a bad pattern keeps the rules in force),
 * the webhook sources (secrets, on/off, their settings; o's strings must outlive the hub).
 * Everything else of o is ignored. Returns 0, or LH_EINVAL / LH_ENOMEM with why set, and then
 * nothing changed. */
int lh_hub_reload(lh_hub_t *hub, const lh_hub_opts_t *o, char *why, size_t whylen);

/* Called by lh_hub_run() after every loop turn (NULL: none), on the hub's thread: where a
 * program does what a signal asked for (a reload). */
void lh_hub_set_turn_hook(lh_hub_t *hub, void (*fn)(lh_hub_t *hub, void *arg), void *arg);

/* Non-zero while intake is paused (the store cannot commit; the batch in hand is retried every
 * second): an adapter serving while paused (adapter.h, serves_while_paused) submits nothing. */
int lh_hub_intake_paused(lh_hub_t *hub);

/* Appends the hub's counters and the store's gauges to out in Prometheus text format. Returns 0
 * or LH_ENOMEM. */
int lh_hub_metrics(lh_hub_t *hub, lh_buf_t *out);

/* Runs a timeline query (loophub/timeline.h) against the hub's own store, between batches (the
 * loop is single-threaded: a query never sees half a batch), and appends the document to out.
 * req->window_ns is replaced by the hub's correlation window; the rest is used as given.
 * Returns 0; LH_EINVAL for an incomplete request (no mode, missing id, service without
 * environment, negative limit); LH_ENOTFOUND when the incident or deploy id is not stored
 * (nothing appended); LH_ESTORE (logged); LH_ENOMEM. On error out may hold part of a document:
 * reset it. */
int lh_hub_timeline(lh_hub_t *hub, const lh_timeline_req_t *req, lh_query_format_t fmt,
                    lh_buf_t *out);

/* Runs a report (loophub/report.h: deployed, audit) against the hub's own store, between
 * batches, and appends its document to out. Returns 0; LH_EINVAL for a bad request (no kind,
 * a period ending before it starts); LH_ESTORE (logged); LH_ENOMEM. On error out may hold part
 * of a document: reset it. */
/* GET /v1/sources, `loophub sources`: the webhook sources (format.h) as a JSON document: each
 * with its route, how it is told and checked, whether it is on and has a secret, and its payloads
 * by verdict since the hub started; the default environment and the aliases in force. Returns 0
 * or LH_ENOMEM. */
int lh_hub_sources(lh_hub_t *hub, lh_buf_t *out);

/* GET /v1/sinks, `loophub sinks`: every sink the outbox feeds, in registration order, as
 * {"sinks":[{"name","adapter","pending","state"}]}: the alerts not yet delivered to it, and
 * what its describe() op says of it (null without one). Returns 0 or LH_ENOMEM. */
int lh_hub_sinks(lh_hub_t *hub, lh_buf_t *out);

int lh_hub_report(lh_hub_t *hub, const lh_report_req_t *req, lh_query_format_t fmt, lh_buf_t *out);

#endif
