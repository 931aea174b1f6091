/*
 * metrics.c - the table of every metric the hub exports, and its Prometheus text exposition.
 *
 * See metrics.h. Adding a metric: a member of lh_metric_t, a row below (the unit suite checks the
 * table is complete and the exposition stays promtool-clean), and the call that counts it.
 */
#include "metrics.h"

#include <string.h>

#include "loophub/error.h"
#include "loophub/format.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const kinds[] = {"deploy", "alert", "incident", "ticket"}; /* lh_kind_t - 1 */
static const char *const expired_what[] = {"deploy", "alert",  "incident",
                                           "ticket", "outbox", "quarantine"};
static const char *const store_files[] = {[LH_M_FILE_DB] = "db", [LH_M_FILE_WAL] = "wal"};
static const char *const reasons[LH_REJ__COUNT] = {
    [LH_REJ_DECODE] = "decode",
    [LH_REJ_TOO_BIG] = "too_big",
    [LH_REJ_MISSING_FIELD] = "missing_field",
    [LH_REJ_UNKNOWN_KIND] = "unknown_kind",
    [LH_REJ_OUT_OF_RANGE] = "out_of_range",
    [LH_REJ_AUTH] = "auth",
    [LH_REJ_OTHER] = "other",
};
/* lh_source_id_t, and the payload verdicts */
static const char *const source_names[LH_SRC_COUNT] = {
    [LH_SRC_GITHUB] = "github",       [LH_SRC_GITLAB] = "gitlab", [LH_SRC_GRAFANA] = "grafana",
    [LH_SRC_PAGERDUTY] = "pagerduty", [LH_SRC_JIRA] = "jira",     [LH_SRC_FLUX] = "flux",
    [LH_SRC_TEKTON] = "tekton"};
static const char *const source_verdicts[LH_M_SRC__COUNT] = {[LH_M_SRC_ACCEPTED] = "accepted",
                                                             [LH_M_SRC_IGNORED] = "ignored",
                                                             [LH_M_SRC_REJECTED] = "rejected"};
/* loophub_correlator_cache_lookups_total{cache, result}: in the order of correlator.h's
 * LH_CORR_CACHE_* */
static const char *const corr_caches[] = {"changes", "outcomes", "conclusions"};
static const char *const corr_results[] = {"hit", "miss"};
static const char *const wal_modes[] = {
    [LH_M_WAL_PASSIVE] = "passive", [LH_M_WAL_RESTART] = "restart"};
static const char *const wait_reasons[] = {
    [LH_M_WAIT_RESTART] = "restart", [LH_M_WAIT_CAP] = "cap"};
/* The codes adapters/http answers with; anything else is "other" (the last value). */
static const unsigned http_codes[] = {200, 202, 400, 401, 403, 404, 405, 413, 415, 500, 503};
static const char *const http_code_values[] = {"200", "202", "400", "401", "403", "404",
                                               "405", "413", "415", "500", "503", "other"};

/* events per batch: batch_max is 4000 by default */
static const int64_t batch_buckets[] = {1, 5, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000};
/* one transaction, in ns: 0.5 ms .. 5 s */
static const int64_t commit_buckets_ns[] = {
    500000,    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,
    100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000,
};

#define COUNTER(n, h) .name = n, .type = LH_MT_COUNTER, .help = h
#define GAUGE(n, h) .name = n, .type = LH_MT_GAUGE, .help = h
#define LABEL(l, vals) .n_labels = 1, .label = {l}, .values = {vals}, .n_values = {N(vals)}
#define HISTOGRAM(n, h, b, div)                                                                    \
    .name = n, .type = LH_MT_HISTOGRAM, .help = h, .buckets = b, .n_buckets = N(b), .unit_div = div

static const lh_metric_def_t defs[LH_M__COUNT] = {
    [LH_M_EVENTS_RECEIVED_TOTAL] = {COUNTER("loophub_events_received_total",
                                            "Events taken from the inputs into a batch, before "
                                            "validation and deduplication.")},
    [LH_M_EVENTS_TOTAL] = {COUNTER("loophub_events_total",
                                   "Events stored, by kind and by the input adapter they came "
                                   "from."),
                           .n_labels = 2, .label = {"kind", "adapter"}, .values = {kinds, NULL},
                           .n_values = {N(kinds), LH__M_ADAPTERS}},
    [LH_M_EVENTS_DUPLICATE_TOTAL] = {COUNTER("loophub_events_duplicate_total",
                                             "Events not stored again: an event with the same id "
                                             "is in the store.")},
    [LH_M_REJECTED_TOTAL] = {COUNTER("loophub_rejected_total",
                                     "Events rejected (kept in the quarantine table), by reason."),
                             LABEL("reason", reasons)},
    [LH_M_REDACTED_TOTAL] = {COUNTER("loophub_redacted_total",
                                     "Values replaced with [redacted] by the redaction rules, in "
                                     "events and in what is quarantined or logged of rejected "
                                     "input.")},
    [LH_M_BATCHES_TOTAL] = {COUNTER("loophub_batches_total", "Batches committed.")},
    [LH_M_STORE_ERRORS_TOTAL] = {COUNTER("loophub_store_errors_total",
                                         "Batch transactions that failed (the batch is kept and "
                                         "retried; nothing is acknowledged meanwhile).")},
    [LH_M_ALERTS_CREATED_TOTAL] = {COUNTER("loophub_alerts_created_total",
                                           "Correlated alerts written to the outbox.")},
    [LH_M_ALERTS_PUBLISHED_TOTAL] = {COUNTER("loophub_alerts_published_total",
                                             "Alerts handed to an output (sent on ZeroMQ PUB, sent "
                                             "to at least one subscriber of the subscription "
                                             "endpoint, or acknowledged by Kafka).")},
    [LH_M_ALERTS_PUB_DROPPED_TOTAL] = {COUNTER("loophub_alerts_pub_dropped_total",
                                               "Alerts the ZeroMQ PUB socket could not send "
                                               "to anyone (offered again). A subscriber whose "
                                               "own queue is full loses alerts alone, seen by "
                                               "it as a gap in seq.")},
    [LH_M_ZMQ_BAD_ENVELOPE_TOTAL] = {COUNTER("loophub_zmq_router_bad_envelope_total",
                                             "ROUTER messages rejected for a malformed "
                                             "envelope.")},
    [LH_M_ZMQ_ACKS_DROPPED_TOTAL] = {COUNTER("loophub_zmq_router_acks_dropped_total",
                                             "ROUTER acknowledgements that could not be sent.")},
    [LH_M_KAFKA_PRODUCE_ERRORS_TOTAL] = {COUNTER("loophub_kafka_produce_errors_total",
                                                 "Alerts not delivered to Kafka or not queued for "
                                                 "it (offered again).")},
    [LH_M_KAFKA_CONSUME_ERRORS_TOTAL] = {COUNTER("loophub_kafka_consume_errors_total",
                                                 "Errors the Kafka consumer reported (a missing "
                                                 "topic, ...).")},
    [LH_M_ZMQ_CURVE_REFUSED_TOTAL] = {COUNTER("loophub_zmq_curve_refused_total",
                                              "ZeroMQ CURVE handshakes refused: a client key "
                                              "not in --curve-allow, or a client that does "
                                              "not speak CURVE with the hub's key.")},
    [LH_M_ZMQ_PUB_STALLS_TOTAL] = {COUNTER("loophub_zmq_pub_stalls_total",
                                           "Times a PUB subscriber stopped reading (its TCP "
                                           "window closed with alerts waiting); it then loses "
                                           "alerts once its own queue is full.")},
    [LH_M_HTTP_RESPONSES_TOTAL] = {COUNTER("loophub_http_responses_total",
                                           "HTTP responses sent, by status code."),
                                   LABEL("code", http_code_values)},
    [LH_M_HTTP_SLOW_CLOSED_TOTAL] = {COUNTER("loophub_http_slow_closed_total",
                                             "HTTP connections closed for being slow: headers or "
                                             "body not in by their deadline, or no headers yet "
                                             "at the connection cap.")},
    [LH_M_WAL_CHECKPOINTS_TOTAL] = {COUNTER("loophub_wal_checkpoints_total",
                                            "WAL checkpoints run by the store's background "
                                            "thread, by mode."),
                                    LABEL("mode", wal_modes)},
    [LH_M_WAL_WRITER_WAITS_TOTAL] = {COUNTER("loophub_wal_writer_waits_total",
                                             "Transactions that waited for the WAL: for a RESTART "
                                             "checkpoint to end, or at the WAL size cap."),
                                     LABEL("reason", wait_reasons)},
    [LH_M_EXPIRED_TOTAL] = {COUNTER("loophub_expired_total",
                                    "Rows deleted by retention: events by kind, outbox alert "
                                    "revisions, quarantined input."),
                            LABEL("what", expired_what)},
    [LH_M_DEDUPE_PROBES_TOTAL] = {COUNTER("loophub_dedupe_store_lookups_total",
                                          "Event ids looked up in the store because they were "
                                          "not in the in-memory dedupe index and their event "
                                          "time is not later than every id it let go.")},
    [LH_M_SOURCE_PAYLOADS_TOTAL] = {COUNTER("loophub_source_payloads_total",
                                            "Payloads of each webhook source, by verdict: "
                                            "accepted (stored, or already there), ignored (read, "
                                            "recording nothing: a ping) or rejected (a bad "
                                            "payload or signature)."),
                                    .n_labels = 2, .label = {"source", "verdict"},
                                    .values = {source_names, source_verdicts},
                                    .n_values = {N(source_names), N(source_verdicts)}},
    [LH_M_CORR_CACHE_TOTAL] = {COUNTER("loophub_correlator_cache_lookups_total",
                                       "The correlator's lookups of changes and of outcomes, "
                                       "by whether its cache answered (hit) or the store "
                                       "(miss)."),
                               .n_labels = 2, .label = {"cache", "result"},
                               .values = {corr_caches, corr_results},
                               .n_values = {N(corr_caches), N(corr_results)}},
    [LH_M_STORE_EVENTS] = {GAUGE("loophub_store_events", "Events in the store.")},
    [LH_M_STORE_KIND_EVENTS] = {GAUGE("loophub_store_kind_events", "Events in the store, by kind."),
                                LABEL("kind", kinds)},
    [LH_M_STORE_OLDEST] = {GAUGE("loophub_store_oldest_event_seconds",
                                 "Event time of the oldest event of each kind in the store, in "
                                 "seconds since the Unix epoch (0: none)."),
                           LABEL("kind", kinds)},
    [LH_M_STORE_BYTES] = {GAUGE("loophub_store_bytes",
                                "Size of the store's files: the database (free pages included) "
                                "and its WAL."),
                          LABEL("file", store_files)},
    [LH_M_STORE_FREE_BYTES] = {GAUGE("loophub_store_free_bytes",
                                     "Free pages in the database file, reused before it grows.")},
    [LH_M_DEDUPE_ENTRIES] = {GAUGE("loophub_dedupe_entries",
                                   "Event ids held by the in-memory dedupe index (at most "
                                   "--dedupe-horizon).")},
    [LH_M_DEDUPE_BYTES] = {GAUGE("loophub_dedupe_bytes",
                                 "Memory held by the in-memory dedupe index.")},
    [LH_M_STORE_QUARANTINED] = {GAUGE("loophub_store_quarantined",
                                      "Rejected messages in the quarantine table.")},
    [LH_M_STORE_QUARANTINE_BYTES] = {GAUGE("loophub_store_quarantine_bytes",
                                           "Payload bytes kept in the quarantine table.")},
    [LH_M_QUARANTINE_EVICTED_TOTAL] = {COUNTER("loophub_quarantine_evicted_total",
                                               "Quarantined rows deleted, oldest first, to keep "
                                               "the quarantine within its row and byte bounds.")},
    [LH_M_ZMQ_PUB_CONNECTIONS] = {GAUGE("loophub_zmq_pub_connections",
                                        "Connections to the ZeroMQ PUB socket (subscribers, "
                                        "and clients still in their handshake).")},
    [LH_M_ZMQ_PUB_STALLED] = {GAUGE("loophub_zmq_pub_stalled_subscribers",
                                    "PUB subscribers not reading now: each loses alerts once its "
                                    "own queue is full.")},
    [LH_M_OUTBOX_PENDING] = {GAUGE(
        "loophub_outbox_pending",
        "Alerts in the outbox not yet delivered, for the sink furthest behind.")},
    [LH_M_START_TIME] = {GAUGE("loophub_start_time_seconds",
                               "When the hub started, in seconds since the Unix epoch.")},
    [LH_M_BATCH_EVENTS] = {HISTOGRAM("loophub_batch_events",
                                     "Events per committed batch (stored, duplicate and "
                                     "rejected).",
                                     batch_buckets, 1)},
    [LH_M_COMMIT_SECONDS] = {HISTOGRAM("loophub_commit_seconds",
                                       "Time to write and commit one batch transaction.",
                                       commit_buckets_ns, 1000000000)},
};

/* public lh_count_t -> registry */
static const lh_metric_t public_counts[LH_COUNT__COUNT] = {
    [LH_COUNT_ALERTS_PUB_DROPPED] = LH_M_ALERTS_PUB_DROPPED_TOTAL,
    [LH_COUNT_ZMQ_BAD_ENVELOPE] = LH_M_ZMQ_BAD_ENVELOPE_TOTAL,
    [LH_COUNT_ZMQ_ACKS_DROPPED] = LH_M_ZMQ_ACKS_DROPPED_TOTAL,
    [LH_COUNT_KAFKA_PRODUCE_ERRORS] = LH_M_KAFKA_PRODUCE_ERRORS_TOTAL,
    [LH_COUNT_KAFKA_CONSUME_ERRORS] = LH_M_KAFKA_CONSUME_ERRORS_TOTAL,
    [LH_COUNT_HTTP_SLOW_CLOSED] = LH_M_HTTP_SLOW_CLOSED_TOTAL,
    [LH_COUNT_ZMQ_CURVE_REFUSED] = LH_M_ZMQ_CURVE_REFUSED_TOTAL,
    [LH_COUNT_ZMQ_PUB_CONNECTIONS] = LH_M_ZMQ_PUB_CONNECTIONS,
    [LH_COUNT_ZMQ_PUB_STALLED] = LH_M_ZMQ_PUB_STALLED,
    [LH_COUNT_ZMQ_PUB_STALLS] = LH_M_ZMQ_PUB_STALLS_TOTAL,
};

const lh_metric_def_t *
lh__metrics_def(lh_metric_t m)
{
    return (unsigned)m < LH_M__COUNT ? &defs[m] : NULL;
}

/* Values one metric takes in reg->v. */
static int
slots_of(const lh_metric_def_t *d)
{
    if (d->type == LH_MT_HISTOGRAM)
        return d->n_labels || d->n_buckets > LH__M_MAX_BUCKETS ? -1 : d->n_buckets + 2;
    int n = 1;
    for (int l = 0; l < d->n_labels; l++)
        n *= d->n_values[l];
    return n;
}

int
lh__metrics_init(lh__metrics_t *reg)
{
    memset(reg, 0, sizeof(*reg));
    int off = 0;
    for (int m = 0; m < LH_M__COUNT; m++) {
        int n = defs[m].name ? slots_of(&defs[m]) : -1;
        if (n < 1 || off + n > LH__M_SLOTS)
            return LH_EINVAL;
        reg->off[m] = (uint16_t)off;
        off += n;
    }
    memcpy(reg->adapter[0], "none", 5);
    reg->n_adapters = 1;
    return 0;
}

int
lh__metrics_adapter(lh__metrics_t *reg, const char *name)
{
    char cut[LH__M_NAME_MAX];
    size_t n = strlen(name ? name : "unnamed");
    if (n >= sizeof(cut))
        n = sizeof(cut) - 1;
    memcpy(cut, name ? name : "unnamed", n);
    cut[n] = 0;
    for (int i = 0; i < reg->n_adapters; i++)
        if (strcmp(reg->adapter[i], cut) == 0)
            return i;
    if (reg->n_adapters == LH__M_ADAPTERS)
        return 0;
    memcpy(reg->adapter[reg->n_adapters], cut, n + 1);
    return reg->n_adapters++;
}

lh_reject_reason_t
lh__metrics_reason(int err)
{
    switch (err) {
    case LH_EDECODE:
        return LH_REJ_DECODE;
    case LH_ETOOBIG:
        return LH_REJ_TOO_BIG;
    case LH_EMISSING:
        return LH_REJ_MISSING_FIELD;
    case LH_EUNKNOWN_KIND:
        return LH_REJ_UNKNOWN_KIND;
    case LH_ERANGE:
        return LH_REJ_OUT_OF_RANGE;
    case LH_EAUTH:
        return LH_REJ_AUTH;
    default:
        return LH_REJ_OTHER;
    }
}

const char *
lh__metrics_reason_name(lh_reject_reason_t r)
{
    return (unsigned)r < LH_REJ__COUNT ? reasons[r] : reasons[LH_REJ_OTHER];
}

void
lh__metrics_observe(lh__metrics_t *reg, lh_metric_t m, int64_t v)
{
    const lh_metric_def_t *d = &defs[m];
    int i = 0;
    while (i < d->n_buckets && v > d->buckets[i])
        i++;
    int64_t *h = &reg->v[reg->off[m]];
    h[i]++;
    h[d->n_buckets + 1] += v;
}

void
lh__metrics_count(lh__metrics_t *reg, lh_count_t what, int64_t delta)
{
    if ((unsigned)what < LH_COUNT__COUNT)
        lh__metrics_add(reg, public_counts[what], 0, delta);
}

void
lh__metrics_http_response(lh__metrics_t *reg, unsigned code)
{
    int i = 0;
    while (i < N(http_codes) && http_codes[i] != code)
        i++;
    lh__metrics_add(reg, LH_M_HTTP_RESPONSES_TOTAL, i, 1);
}

/* --- exposition ------------------------------------------------------------------------------ */

/* v / div as a decimal without trailing zeros (div a power of ten, at most 1e18): le="0.0025",
 * 0.123456789. Exact: no floating point. */
static int
put_fixed(lh_buf_t *out, int64_t v, int64_t div)
{
    if (div <= 1)
        return lh_buf_printf(out, "%lld", (long long)v);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = u / (uint64_t)div, fp = u % (uint64_t)div;
    char frac[20];
    int n = 0;
    for (uint64_t d = (uint64_t)div / 10; d > 0 && n < (int)sizeof(frac); d /= 10)
        frac[n++] = (char)('0' + (fp / d) % 10);
    while (n > 0 && frac[n - 1] == '0')
        n--;
    return lh_buf_printf(out, "%s%llu%s%.*s", v < 0 ? "-" : "", (unsigned long long)ip,
                         n ? "." : "", n, frac);
}

/* A label value, escaped as the text format wants (\\, \", \n). */
int
lh__metrics_label_value(lh_buf_t *out, const char *s)
{
    int rc = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '"')
            LH_KEEP_FIRST(rc, lh_buf_printf(out, "\\%c", *p));
        else if (*p == '\n')
            LH_KEEP_FIRST(rc, lh_buf_printf(out, "\\n"));
        else
            LH_KEEP_FIRST(rc, lh_buf_append(out, p, 1));
    }
    return rc;
}

/* HELP text: \\ and \n escaped. */
static int
put_help(lh_buf_t *out, const char *s)
{
    int rc = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            LH_KEEP_FIRST(rc, lh_buf_printf(out, "\\\\"));
        else if (*p == '\n')
            LH_KEEP_FIRST(rc, lh_buf_printf(out, "\\n"));
        else
            LH_KEEP_FIRST(rc, lh_buf_append(out, p, 1));
    }
    return rc;
}

static const char *
label_value(const lh__metrics_t *reg, const lh_metric_def_t *d, int l, int i)
{
    return d->values[l] ? d->values[l][i] : reg->adapter[i];
}

/* Whether value i of label l is written: every fixed value and every registered adapter; the
 * "none" adapter only once something was counted for it, or when no adapter is registered (so
 * that the family is never empty). */
static int
shown(const lh__metrics_t *reg, lh_metric_t m, int l, int i)
{
    const lh_metric_def_t *d = &defs[m];
    if (d->values[l])
        return 1;
    if (i >= reg->n_adapters)
        return 0;
    if (i > 0 || reg->n_adapters == 1)
        return 1;
    /* "none": any series of m with label l at i */
    int other = d->n_labels == 2 ? d->n_values[1 - l] : 1;
    for (int o = 0; o < other; o++) {
        int idx = d->n_labels == 1 ? i : l == 0 ? i * d->n_values[1] + o : o * d->n_values[1] + i;
        if (reg->v[reg->off[m] + idx])
            return 1;
    }
    return 0;
}

static int
put_sample(lh_buf_t *out, const lh__metrics_t *reg, lh_metric_t m, const int *li)
{
    const lh_metric_def_t *d = &defs[m];
    int rc = lh_buf_printf(out, "%s", d->name);
    int idx = 0;
    if (d->n_labels) {
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "{"));
        for (int l = 0; l < d->n_labels; l++) {
            LH_KEEP_FIRST(rc, lh_buf_printf(out, "%s%s=\"", l ? "," : "", d->label[l]));
            LH_KEEP_FIRST(rc, lh__metrics_label_value(out, label_value(reg, d, l, li[l])));
            LH_KEEP_FIRST(rc, lh_buf_printf(out, "\""));
            idx = idx * d->n_values[l] + li[l];
        }
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "}"));
    }
    return rc | lh_buf_printf(out, " %lld\n", (long long)reg->v[reg->off[m] + idx]);
}

static int
put_histogram(lh_buf_t *out, const lh__metrics_t *reg, lh_metric_t m)
{
    const lh_metric_def_t *d = &defs[m];
    const int64_t *h = &reg->v[reg->off[m]];
    int64_t cum = 0;
    int rc = 0;
    for (int i = 0; i < d->n_buckets; i++) {
        cum += h[i];
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "%s_bucket{le=\"", d->name));
        LH_KEEP_FIRST(rc, put_fixed(out, d->buckets[i], d->unit_div));
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "\"} %lld\n", (long long)cum));
    }
    cum += h[d->n_buckets];
    LH_KEEP_FIRST(rc, lh_buf_printf(out, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum ", d->name,
                                    (long long)cum, d->name));
    LH_KEEP_FIRST(rc, put_fixed(out, h[d->n_buckets + 1], d->unit_div));
    return rc | lh_buf_printf(out, "\n%s_count %lld\n", d->name, (long long)cum);
}

int
lh__metrics_write(const lh__metrics_t *reg, lh_buf_t *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    int rc = 0;
    for (int m = 0; m < LH_M__COUNT; m++) {
        const lh_metric_def_t *d = &defs[m];
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "# HELP %s ", d->name));
        LH_KEEP_FIRST(rc, put_help(out, d->help));
        LH_KEEP_FIRST(rc, lh_buf_printf(out, "\n# TYPE %s %s\n", d->name, types[d->type]));
        if (d->type == LH_MT_HISTOGRAM) {
            LH_KEEP_FIRST(rc, put_histogram(out, reg, (lh_metric_t)m));
            continue;
        }
        int li[LH__M_MAX_LABELS] = {0};
        if (d->n_labels == 0) {
            LH_KEEP_FIRST(rc, put_sample(out, reg, (lh_metric_t)m, li));
        } else if (d->n_labels == 1) {
            for (li[0] = 0; li[0] < d->n_values[0]; li[0]++)
                if (shown(reg, (lh_metric_t)m, 0, li[0]))
                    LH_KEEP_FIRST(rc, put_sample(out, reg, (lh_metric_t)m, li));
        } else {
            for (li[0] = 0; li[0] < d->n_values[0]; li[0]++) {
                if (!shown(reg, (lh_metric_t)m, 0, li[0]))
                    continue;
                for (li[1] = 0; li[1] < d->n_values[1]; li[1]++)
                    if (shown(reg, (lh_metric_t)m, 1, li[1]))
                        LH_KEEP_FIRST(rc, put_sample(out, reg, (lh_metric_t)m, li));
            }
        }
    }
    return rc ? LH_ENOMEM : 0;
}
