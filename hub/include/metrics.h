/*
 * metrics.h - the hub's metrics registry (core-internal; adapters count through lh_hub_count()).
 *
 * Every metric is a member of lh_metric_t and a row of one static table in metrics.c (name,
 * type, help, label names, the fixed values of each label, histogram buckets). Values live in one
 * flat array: a metric's series are at reg->off[m] + a label index, so counting is an array add,
 * with no string work and no allocation. Labels take values from fixed sets (an event kind, a
 * rejection reason, a WAL checkpoint mode, an HTTP status code, ...); the one open label,
 * "adapter", takes the names of the input adapters registered with the hub (at most
 * LH__M_ADAPTERS - 1 of them, known before the first event), and slot 0, "none", for messages
 * submitted without an adapter.
 *
 * lh__metrics_write() writes the Prometheus text format (version 0.0.4): every family once, with
 * its HELP and TYPE lines before its samples; every series of a fixed label set from the start,
 * at 0; histograms as _bucket (cumulative, le="+Inf" last) / _sum / _count.
 *
 * Single-threaded, like the hub: counted and written on the hub's thread.
 */
#ifndef LOOPHUB_METRICS_H
#define LOOPHUB_METRICS_H

#include <stdint.h>

#include "loophub/adapter.h"
#include "loophub/buf.h"
#include "loophub/event.h"

typedef enum {
    /* counters */
    LH_M_EVENTS_RECEIVED_TOTAL,      /* loophub_events_received_total */
    LH_M_EVENTS_TOTAL,               /* loophub_events_total{kind,adapter} */
    LH_M_EVENTS_DUPLICATE_TOTAL,     /* loophub_events_duplicate_total */
    LH_M_REJECTED_TOTAL,             /* loophub_rejected_total{reason} */
    LH_M_REDACTED_TOTAL,             /* loophub_redacted_total */
    LH_M_BATCHES_TOTAL,              /* loophub_batches_total */
    LH_M_STORE_ERRORS_TOTAL,         /* loophub_store_errors_total */
    LH_M_ALERTS_CREATED_TOTAL,       /* loophub_alerts_created_total */
    LH_M_ALERTS_PUBLISHED_TOTAL,     /* loophub_alerts_published_total */
    LH_M_ALERTS_PUB_DROPPED_TOTAL,   /* loophub_alerts_pub_dropped_total */
    LH_M_ZMQ_BAD_ENVELOPE_TOTAL,     /* loophub_zmq_router_bad_envelope_total */
    LH_M_ZMQ_ACKS_DROPPED_TOTAL,     /* loophub_zmq_router_acks_dropped_total */
    LH_M_KAFKA_PRODUCE_ERRORS_TOTAL, /* loophub_kafka_produce_errors_total */
    LH_M_KAFKA_CONSUME_ERRORS_TOTAL, /* loophub_kafka_consume_errors_total */
    LH_M_ZMQ_CURVE_REFUSED_TOTAL,    /* loophub_zmq_curve_refused_total */
    LH_M_ZMQ_PUB_STALLS_TOTAL,       /* loophub_zmq_pub_stalls_total */
    LH_M_HTTP_RESPONSES_TOTAL,       /* loophub_http_responses_total{code} */
    LH_M_HTTP_SLOW_CLOSED_TOTAL,     /* loophub_http_slow_closed_total */
    LH_M_WAL_CHECKPOINTS_TOTAL,      /* loophub_wal_checkpoints_total{mode}: set at scrape time */
    LH_M_WAL_WRITER_WAITS_TOTAL,     /* loophub_wal_writer_waits_total{reason}: set at scrape */
    LH_M_EXPIRED_TOTAL,              /* loophub_expired_total{what} */
    LH_M_DEDUPE_PROBES_TOTAL,        /* loophub_dedupe_store_lookups_total: set at scrape */
    LH_M_SOURCE_PAYLOADS_TOTAL,      /* loophub_source_payloads_total{source,verdict} */
    LH_M_CORR_CACHE_TOTAL, /* loophub_correlator_cache_lookups_total{cache,result}: set at scrape */
    /* gauges (set at scrape time, except the start time) */
    LH_M_STORE_EVENTS,             /* loophub_store_events */
    LH_M_STORE_QUARANTINED,        /* loophub_store_quarantined */
    LH_M_STORE_QUARANTINE_BYTES,   /* loophub_store_quarantine_bytes */
    LH_M_QUARANTINE_EVICTED_TOTAL, /* loophub_quarantine_evicted_total */
    LH_M_STORE_KIND_EVENTS,        /* loophub_store_kind_events{kind} */
    LH_M_STORE_OLDEST,             /* loophub_store_oldest_event_seconds{kind} */
    LH_M_STORE_BYTES,              /* loophub_store_bytes{file} */
    LH_M_STORE_FREE_BYTES,         /* loophub_store_free_bytes */
    LH_M_DEDUPE_ENTRIES,           /* loophub_dedupe_entries */
    LH_M_DEDUPE_BYTES,             /* loophub_dedupe_bytes */
    LH_M_ZMQ_PUB_CONNECTIONS,      /* loophub_zmq_pub_connections: counted, not set */
    LH_M_ZMQ_PUB_STALLED,          /* loophub_zmq_pub_stalled_subscribers: counted, not set */
    LH_M_OUTBOX_PENDING,           /* loophub_outbox_pending */
    LH_M_START_TIME,               /* loophub_start_time_seconds */
    /* histograms */
    LH_M_BATCH_EVENTS,   /* loophub_batch_events: events per committed batch */
    LH_M_COMMIT_SECONDS, /* loophub_commit_seconds: one batch transaction (observed in ns) */
    LH_M__COUNT
} lh_metric_t;

typedef enum { LH_MT_COUNTER, LH_MT_GAUGE, LH_MT_HISTOGRAM } lh_metric_type_t;

/* Why an event was rejected: the values of loophub_rejected_total's reason label. */
typedef enum {
    LH_REJ_DECODE,        /* LH_EDECODE: the payload or the event cannot be read */
    LH_REJ_TOO_BIG,       /* LH_ETOOBIG */
    LH_REJ_MISSING_FIELD, /* LH_EMISSING */
    LH_REJ_UNKNOWN_KIND,  /* LH_EUNKNOWN_KIND */
    LH_REJ_OUT_OF_RANGE,  /* LH_ERANGE */
    LH_REJ_AUTH,          /* LH_EAUTH: a webhook source's signature or token did not match */
    LH_REJ_OTHER,         /* any other LH_E* */
    LH_REJ__COUNT
} lh_reject_reason_t;

/* loophub_source_payloads_total's verdict (its source label: lh_source_id_t). */
enum { LH_M_SRC_ACCEPTED, LH_M_SRC_IGNORED, LH_M_SRC_REJECTED, LH_M_SRC__COUNT };

/* loophub_expired_total's what: the event kinds (lh_kind_t - 1), then these. */
enum { LH_M_EXPIRED_OUTBOX = 4, LH_M_EXPIRED_QUARANTINE = 5 };
/* loophub_store_bytes's file. */
enum { LH_M_FILE_DB, LH_M_FILE_WAL };

/* loophub_wal_checkpoints_total's mode, loophub_wal_writer_waits_total's reason. */
enum { LH_M_WAL_PASSIVE, LH_M_WAL_RESTART };
enum { LH_M_WAIT_RESTART, LH_M_WAIT_CAP };

#define LH__M_ADAPTERS 33  /* adapter label values: "none" + the hub's MAX_ADAPTERS */
#define LH__M_NAME_MAX 48  /* an adapter name longer than this is cut */
#define LH__M_SLOTS 256    /* values of every series (checked by lh__metrics_init) */
#define LH__M_MAX_LABELS 2 /* labels of one family at most */
#define LH__M_MAX_BUCKETS 16

/* One row of the table. A label with values == NULL is the adapter label. Histogram buckets are
 * upper bounds in the unit observed (integers), exported divided by unit_div (1 for counts, 1e9
 * for nanoseconds shown as seconds). */
typedef struct lh_metric_def {
    const char *name;
    lh_metric_type_t type;
    const char *help;
    int n_labels;
    const char *label[LH__M_MAX_LABELS];
    const char *const *values[LH__M_MAX_LABELS];
    int n_values[LH__M_MAX_LABELS];
    const int64_t *buckets; /* histograms: ascending, +Inf implied */
    int n_buckets;
    int64_t unit_div;
} lh_metric_def_t;

typedef struct lh__metrics {
    /* counters and gauges: one value per series; histograms: n_buckets + 1 per-bucket counts
     * (not cumulative; the last is above every bound) and then the sum */
    int64_t v[LH__M_SLOTS];
    uint16_t off[LH_M__COUNT];
    int n_adapters; /* adapter label slots in use, slot 0 ("none") included */
    char adapter[LH__M_ADAPTERS][LH__M_NAME_MAX];
} lh__metrics_t;

/* The table row of m (NULL when m is out of range). */
const lh_metric_def_t *lh__metrics_def(lh_metric_t m);

/* Zeroes reg and lays out the series. Returns 0, or LH_EINVAL when the table does not fit
 * LH__M_SLOTS (a programming error the unit suite catches). */
int lh__metrics_init(lh__metrics_t *reg);

/* The adapter label slot for an input adapter named name (the same slot for the same name):
 * from now on its series are written, at 0 until counted. Returns the slot, or 0 ("none") when
 * every slot is taken. Not for the hot path (compares names). */
int lh__metrics_adapter(lh__metrics_t *reg, const char *name);

/* Maps an LH_E* rejection to its reason label, and a reason to its label value. */
lh_reject_reason_t lh__metrics_reason(int err);
const char *lh__metrics_reason_name(lh_reject_reason_t r);

/* The hot path: adds delta to series idx of counter m (idx is the label index: 0 without labels,
 * else the helpers below). */
static inline void
lh__metrics_add(lh__metrics_t *reg, lh_metric_t m, int idx, int64_t delta)
{
    reg->v[reg->off[m] + idx] += delta;
}

/* Sets series idx of gauge (or scrape-time counter) m. */
static inline void
lh__metrics_set(lh__metrics_t *reg, lh_metric_t m, int idx, int64_t value)
{
    reg->v[reg->off[m] + idx] = value;
}

/* One event stored, of kind kind (LH_KIND_DEPLOY..LH_KIND_TICKET; others are not counted), from
 * the adapter in label slot slot. */
static inline void
lh__metrics_event(lh__metrics_t *reg, lh_kind_t kind, int slot, int64_t delta)
{
    if (kind >= LH_KIND_DEPLOY && kind <= LH_KIND_TICKET && slot >= 0 && slot < LH__M_ADAPTERS)
        lh__metrics_add(reg, LH_M_EVENTS_TOTAL,
                        (int)(kind - LH_KIND_DEPLOY) * LH__M_ADAPTERS + slot, delta);
}

/* One rejection with error err. */
static inline void
lh__metrics_reject(lh__metrics_t *reg, int err)
{
    lh__metrics_add(reg, LH_M_REJECTED_TOTAL, (int)lh__metrics_reason(err), 1);
}

/* Histogram m observes v (in the unit of its buckets). */
void lh__metrics_observe(lh__metrics_t *reg, lh_metric_t m, int64_t v);

/* The public counters of adapter.h. */
void lh__metrics_count(lh__metrics_t *reg, lh_count_t what, int64_t delta);
void lh__metrics_http_response(lh__metrics_t *reg, unsigned code);

/* Appends the whole registry in the Prometheus text format. Returns 0 or LH_ENOMEM. */
int lh__metrics_write(const lh__metrics_t *reg, lh_buf_t *out);

/* Appends s as a label value of the Prometheus text format (\\, \" and \n escaped). Returns 0 or
 * LH_ENOMEM. */
int lh__metrics_label_value(lh_buf_t *out, const char *s);

#endif
