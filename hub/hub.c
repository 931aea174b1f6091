/*
 * hub.c - the reactor and the ingest pipeline.
 *
 * Invariants:
 *  - Only this thread touches the store, the correlator and the batch.
 *  - A message's done() is called exactly once, after the transaction holding its events is
 *    committed (or, for a message rejected whole, after its quarantine row is committed); a
 *    message still uncommitted when the hub is destroyed gets forget() instead. A submission that
 *    fails leaves nothing of its message in the batch.
 *  - Alerts leave only from the outbox, after the commit that wrote them; per output sink a
 *    cursor remembers the last alert handed over and only moves forward, so asynchronous sinks
 *    (Kafka) are not fed the same alert twice while it is in flight; a failed delivery puts that
 *    one alert on the sink's retry list, offered again once.
 *  - A failed commit keeps the batch, pauses intake and retries; nothing is acked meanwhile.
 *  - "Done" marks of published alerts (sync sinks, Kafka delivery reports) are not written on
 *    their own: they wait in hub->done and ride in the next batch transaction (applied right
 *    after its BEGIN, dropped from the list only when that transaction commits). When no batch
 *    commits within DONE_FLUSH_NS, when the list reaches DONE_FLUSH_MAX, and at shutdown, they
 *    get a small transaction of their own. A mark lost to a crash only re-publishes that alert,
 *    with the same id, after a restart (DESIGN: PUB is lossy, Kafka at-least-once).
 */
#include "hub.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "correlator.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "query.h"

/* Adapters fill lh_pollitem_t (adapter.h, no <zmq.h> there) and the hub hands the array to
 * zmq_poll() as is: the two must be the same layout. */
_Static_assert(sizeof(lh_pollitem_t) == sizeof(zmq_pollitem_t), "lh_pollitem_t size");
_Static_assert(_Alignof(lh_pollitem_t) == _Alignof(zmq_pollitem_t), "lh_pollitem_t alignment");
_Static_assert(offsetof(lh_pollitem_t, socket) == offsetof(zmq_pollitem_t, socket),
               "lh_pollitem_t.socket");
_Static_assert(offsetof(lh_pollitem_t, fd) == offsetof(zmq_pollitem_t, fd), "lh_pollitem_t.fd");
_Static_assert(sizeof(((lh_pollitem_t *)0)->fd) == sizeof(((zmq_pollitem_t *)0)->fd),
               "lh_pollitem_t.fd size");
_Static_assert(offsetof(lh_pollitem_t, events) == offsetof(zmq_pollitem_t, events),
               "lh_pollitem_t.events");
_Static_assert(offsetof(lh_pollitem_t, revents) == offsetof(zmq_pollitem_t, revents),
               "lh_pollitem_t.revents");
_Static_assert(sizeof(((lh_pollitem_t *)0)->events) == sizeof(((zmq_pollitem_t *)0)->events),
               "lh_pollitem_t.events size");
_Static_assert(LH_POLLIN == ZMQ_POLLIN && LH_POLLOUT == ZMQ_POLLOUT, "LH_POLLIN/LH_POLLOUT");

#define MAX_ADAPTERS 32
#define MAX_POLLITEMS 128
#define MAX_METRICS 64
#define DONE_FLUSH_NS LH_NS_PER_SEC /* longest a done mark waits for a batch transaction */
#define DONE_FLUSH_MAX 4096         /* marks waiting at most (bounds memory and one tx) */

struct lh_adapter {
    const lh_adapter_ops_t *ops;
    void *ctx;
    int sink; /* LH_SINK_* for outputs, -1 for inputs */
    int started;
};

typedef struct item {
    lh_event_t *ev; /* NULL when rejected at decode */
    int err;        /* 0, or the rejection */
    char *id;       /* for rejections: the id when it could be read (malloc'd) */
    char *why;      /* malloc'd reason */
    size_t msg;     /* index into batch.msgs */
    lh_ack_status_t status;
} item_t;

typedef struct msg {
    lh_adapter_t *from;
    void *token;
    char *origin;
    void *raw; /* copy of the payload, kept only when something in it was rejected */
    size_t raw_len;
    size_t first, n; /* items */
} msg_t;

typedef struct done_mark {
    int sink;
    int64_t seq;
} done_mark_t;

typedef struct metric {
    char name[96];
    int64_t value;
} metric_t;

struct lh_hub {
    lh_hub_opts_t o;             /* as given, db_path copied, codec.limits -> o.limits */
    lh_store_opts_t store_o;     /* mapped from o */
    lh_correlator_opts_t corr_o; /* mapped from o */
    lh_store_t *st;
    lh_correlator_t *corr;
    lh_adapter_t adapters[MAX_ADAPTERS];
    int n_adapters;
    volatile sig_atomic_t stop;
    int stopping;

    item_t *items;
    size_t n_items, cap_items;
    msg_t *msgs;
    size_t n_msgs, cap_msgs;
    int stalled; /* last commit failed */
    int64_t stalled_retry_at;

    int outbox_dirty;
    int64_t outbox_check_at;
    int64_t cursor[2]; /* per sink: last seq handed over; only ever moves forward */
    int64_t *retry[2]; /* per sink: seqs at or below the cursor whose delivery failed */
    size_t n_retry[2], cap_retry[2];
    done_mark_t *done; /* alerts out, not yet marked done in the store (see top of file) */
    size_t n_done, cap_done;
    int64_t done_due; /* mono ns: flush the marks on their own if no batch committed by then */

    lh_buf_t pb;  /* reused encode buffer */
    lh_buf_t enc; /* reused alert encode buffer */

    metric_t metrics[MAX_METRICS];
    int n_metrics;
    int64_t started_ns;
};

/* The public options take their defaults from the modules' own, so each default is written once. */
void
lh_hub_opts_default(lh_hub_opts_t *o)
{
    lh_store_opts_t so;
    lh_correlator_opts_t co;
    lh_store_opts_default(&so);
    lh_correlator_opts_default(&co);
    memset(o, 0, sizeof(*o));
    o->db_path = "loophub.db";
    o->synchronous_full = so.synchronous_full;
    o->page_size = so.page_size;
    o->wal_checkpoint_bytes = so.wal_checkpoint_bytes;
    o->window_ns = co.window_ns;
    o->alert_min_severity = co.alert_min_severity;
    lh_codec_opts_default(&o->codec);
    lh_limits_default(&o->limits);
    o->codec.limits = NULL;
    o->batch_max = 4000;
    o->batch_ms = 10;
    o->alerts_format = LH_ALERTS_PROTOBUF;
}

/* The private options of the store and the correlator, from the public ones. */
static void
map_opts(lh_hub_t *hub)
{
    lh_store_opts_default(&hub->store_o);
    hub->store_o.synchronous_full = hub->o.synchronous_full;
    hub->store_o.page_size = hub->o.page_size;
    hub->store_o.wal_checkpoint_bytes = hub->o.wal_checkpoint_bytes;
    lh_correlator_opts_default(&hub->corr_o);
    hub->corr_o.window_ns = hub->o.window_ns;
    hub->corr_o.alert_min_severity = hub->o.alert_min_severity;
}

void
lh_hub_count(lh_hub_t *hub, const char *name, int64_t delta)
{
    for (int i = 0; i < hub->n_metrics; i++) {
        if (strcmp(hub->metrics[i].name, name) == 0) {
            hub->metrics[i].value += delta;
            return;
        }
    }
    if (hub->n_metrics == MAX_METRICS)
        return;
    metric_t *m = &hub->metrics[hub->n_metrics++];
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->value = delta;
}

int
lh_hub_new(const lh_hub_opts_t *o, lh_hub_t **out)
{
    *out = NULL;
    lh_hub_t *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return LH_ENOMEM;
    hub->o = *o;
    hub->o.codec.limits = &hub->o.limits;
    char *db_path = strdup(o->db_path ? o->db_path : "loophub.db");
    if (!db_path) {
        free(hub);
        return LH_ENOMEM;
    }
    hub->o.db_path = db_path;
    map_opts(hub);
    int rc = lh_store_open(hub->o.db_path, &hub->store_o, &hub->st);
    if (rc < 0) {
        free(db_path);
        free(hub);
        return rc;
    }
    rc = lh_correlator_new(hub->st, &hub->corr_o, &hub->corr);
    if (rc < 0) {
        lh_store_close(&hub->st);
        free(db_path);
        free(hub);
        return rc;
    }
    /* fixed metrics first, so they always show in /metrics */
    static const char *const fixed[] = {
        "loophub_events_received_total",  "loophub_events_stored_total",
        "loophub_events_duplicate_total", "loophub_events_rejected_total",
        "loophub_alerts_created_total",   "loophub_alerts_published_total",
        "loophub_batches_total",          "loophub_store_errors_total",
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        lh_hub_count(hub, fixed[i], 0);
    hub->outbox_dirty = 1; /* publish whatever an earlier run left */
    hub->started_ns = lh_now_ns();
    *out = hub;
    return 0;
}

lh_store_t *
lh_hub_store(lh_hub_t *hub)
{
    return hub->st;
}

int
lh_hub_timeline(lh_hub_t *hub, const lh_timeline_req_t *req, lh_query_format_t fmt, lh_buf_t *out)
{
    if (!req)
        return LH_EINVAL;
    lh_timeline_req_t r = *req;
    r.window_ns = hub->o.window_ns; /* the window that decided this store's alerts */
    return lh_query_timeline(hub->st, &r, fmt, out);
}

const lh_hub_opts_t *
lh_hub_opts(lh_hub_t *hub)
{
    return &hub->o;
}

int
lh_hub_add_adapter(lh_hub_t *hub, const lh_adapter_ops_t *ops, void *ctx, int sink)
{
    if (hub->n_adapters == MAX_ADAPTERS) {
        if (ops->destroy)
            ops->destroy(ctx);
        return LH_ENOMEM;
    }
    lh_adapter_t *a = &hub->adapters[hub->n_adapters++];
    a->ops = ops;
    a->ctx = ctx;
    a->sink = sink;
    return 0;
}

lh_adapter_t *
lh_hub_adapter_of(lh_hub_t *hub, void *ctx)
{
    for (int i = 0; i < hub->n_adapters; i++)
        if (hub->adapters[i].ctx == ctx)
            return &hub->adapters[i];
    return NULL;
}

int
lh_hub_start_adapters(lh_hub_t *hub)
{
    for (int i = 0; i < hub->n_adapters; i++) {
        lh_adapter_t *a = &hub->adapters[i];
        if (a->started || !a->ops->start)
            continue;
        int rc = a->ops->start(a->ctx, hub);
        if (rc < 0)
            return rc;
        a->started = 1;
    }
    return 0;
}

void
lh_hub_request_stop(lh_hub_t *hub)
{
    hub->stop = 1;
}

/* --- batch ------------------------------------------------------------------------------- */

static int
push_msg(lh_hub_t *hub, lh_adapter_t *from, const char *origin, void *token)
{
    if (hub->n_msgs == hub->cap_msgs) {
        size_t cap = hub->cap_msgs ? hub->cap_msgs * 2 : 256;
        msg_t *m = realloc(hub->msgs, cap * sizeof(*m));
        if (!m)
            return LH_ENOMEM;
        hub->msgs = m;
        hub->cap_msgs = cap;
    }
    msg_t *m = &hub->msgs[hub->n_msgs];
    memset(m, 0, sizeof(*m));
    m->from = from;
    m->token = token;
    m->origin = strdup(origin ? origin : "?");
    if (!m->origin)
        return LH_ENOMEM;
    m->first = hub->n_items;
    hub->n_msgs++;
    return 0;
}

static int
push_item(lh_hub_t *hub, lh_event_t *ev, int err, const char *id, const char *why)
{
    if (hub->n_items == hub->cap_items) {
        size_t cap = hub->cap_items ? hub->cap_items * 2 : 1024;
        item_t *v = realloc(hub->items, cap * sizeof(*v));
        if (!v) {
            lh_event_destroy(&ev);
            return LH_ENOMEM;
        }
        hub->items = v;
        hub->cap_items = cap;
    }
    item_t *it = &hub->items[hub->n_items++];
    memset(it, 0, sizeof(*it));
    it->ev = ev;
    it->err = err;
    it->msg = hub->n_msgs - 1;
    if (!ev) {
        it->err = err ? err : LH_EDECODE;
        it->id = id ? strdup(id) : NULL;
        it->why = strdup(why ? why : "cannot decode");
    }
    hub->msgs[hub->n_msgs - 1].n++;
    lh_hub_count(hub, "loophub_events_received_total", 1);
    return 0;
}

typedef struct {
    lh_hub_t *hub;
    int err; /* an item could not be kept: the whole message is taken back */
} submit_ctx_t;

static int
decode_sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    submit_ctx_t *sc = arg;
    int rc = push_item(sc->hub, ev, err, id, why);
    if (rc < 0) {
        sc->err = rc;
        return 1;
    }
    return 0;
}

static int commit_batch(lh_hub_t *hub);

static void
keep_raw_if_rejected(lh_hub_t *hub, const void *data, size_t len)
{
    msg_t *m = &hub->msgs[hub->n_msgs - 1];
    for (size_t i = m->first; i < m->first + m->n; i++) {
        if (hub->items[i].err) {
            m->raw = malloc(len ? len : 1);
            if (m->raw) {
                if (len)
                    memcpy(m->raw, data, len);
                m->raw_len = len;
            }
            return;
        }
    }
}

/* Takes back the message pushed last (and its items) after its submission failed: the adapter
 * keeps its token, done() will not be called for it. */
static void
drop_last_msg(lh_hub_t *hub)
{
    msg_t *m = &hub->msgs[hub->n_msgs - 1];
    for (size_t i = m->first; i < hub->n_items; i++) {
        lh_event_destroy(&hub->items[i].ev);
        free(hub->items[i].id);
        free(hub->items[i].why);
    }
    lh_hub_count(hub, "loophub_events_received_total", -(int64_t)(hub->n_items - m->first));
    hub->n_items = m->first;
    free(m->origin);
    free(m->raw);
    hub->n_msgs--;
}

static void
maybe_flush(lh_hub_t *hub)
{
    if (hub->n_items >= (size_t)hub->o.batch_max && !hub->stalled)
        commit_batch(hub);
}

int
lh_hub_submit(lh_hub_t *hub, const lh_submit_t *m)
{
    static const char empty[1] = "";
    const void *data = m->data && m->len ? m->data : empty;
    size_t len = m->data ? m->len : 0;
    int rc = push_msg(hub, m->from, m->origin, m->from ? m->token : NULL);
    if (rc < 0)
        return rc;
    submit_ctx_t sc = {hub, 0};
    if (m->reject)
        rc = decode_sink(NULL, LH_EDECODE, NULL, m->reject, &sc);
    else
        rc = lh_codec_decode_msg(data, len, (lh_format_t)m->hint, m->headers, m->n_headers,
                                 &hub->o.codec, decode_sink, &sc);
    if (rc < 0 || sc.err < 0) {
        drop_last_msg(hub);
        return rc < 0 ? rc : sc.err;
    }
    keep_raw_if_rejected(hub, data, len);
    maybe_flush(hub);
    return 0;
}

static const char *
reason_label(int err)
{
    switch (err) {
    case LH_EDECODE:
        return "decode";
    case LH_ETOOBIG:
        return "too_big";
    case LH_EMISSING:
        return "missing_field";
    case LH_EUNKNOWN_KIND:
        return "unknown_kind";
    case LH_ERANGE:
        return "out_of_range";
    default:
        return "other";
    }
}

/* Marks an item rejected (inside the transaction; counted once the batch is committed). */
static void
reject(item_t *it, int err, const char *why)
{
    if (!it->why)
        it->why = strdup(why);
    it->err = err;
    it->status = LH_ACK_REJECTED;
}

/* After the commit: count and log (at most once a second per reason) one rejection. */
static void
account_rejection(lh_hub_t *hub, const item_t *it)
{
    char metric[96];
    snprintf(metric, sizeof(metric), "loophub_events_rejected_total{reason=\"%s\"}",
             reason_label(it->err));
    lh_hub_count(hub, metric, 1);
    lh_hub_count(hub, "loophub_events_rejected_total", 1);
    const msg_t *m = &hub->msgs[it->msg];
    const char *id = it->ev ? it->ev->id : it->id;
    lh_log_ratelimited(reason_label(it->err), LH_LOG_WARN, "pipeline", "rejected %s%s%sfrom %s: %s",
                       id ? "event " : "a message ", id ? id : "", id ? " " : "", m->origin,
                       it->why ? it->why : "?");
}

static void
free_batch(lh_hub_t *hub)
{
    for (size_t i = 0; i < hub->n_items; i++) {
        lh_event_destroy(&hub->items[i].ev);
        free(hub->items[i].id);
        free(hub->items[i].why);
    }
    for (size_t i = 0; i < hub->n_msgs; i++) {
        free(hub->msgs[i].origin);
        free(hub->msgs[i].raw);
    }
    hub->n_items = hub->n_msgs = 0;
}

/* Writes the waiting done marks inside the open transaction (the list is cleared by the caller
 * once that transaction commits). Returns 0 or LH_ESTORE. */
static int
apply_done(lh_hub_t *hub)
{
    for (size_t i = 0; i < hub->n_done; i++) {
        int rc = lh_store_alert_done(hub->st, (lh_sink_t)hub->done[i].sink, hub->done[i].seq);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The marks are in the store now. */
static void
done_applied(lh_hub_t *hub, size_t n)
{
    hub->n_done -= n;
    if (hub->n_done)
        memmove(hub->done, hub->done + n, hub->n_done * sizeof(*hub->done));
    else
        hub->done_due = 0;
}

/* Runs the whole batch inside one transaction, with the waiting done marks. Returns 0 or
 * LH_ESTORE (rolled back). */
static int
store_batch(lh_hub_t *hub, int64_t now, int *alerts)
{
    int rc = lh_store_begin(hub->st);
    if (rc < 0)
        return rc;
    if ((rc = apply_done(hub)) < 0)
        goto fail;
    char why[256];
    for (size_t i = 0; i < hub->n_items; i++) {
        item_t *it = &hub->items[i];
        it->status = LH_ACK_OK;
        if (it->ev) {
            why[0] = 0;
            int v = lh_event_normalize(it->ev);
            if (v == 0)
                v = lh_event_validate(it->ev, &hub->o.limits, now, why, sizeof(why));
            if (v < 0) {
                free(it->why);
                it->why = NULL;
                reject(it, v, why[0] ? why : lh_strerror(v));
            }
        } else {
            reject(it, it->err, it->why ? it->why : "cannot decode");
        }
        if (it->status == LH_ACK_REJECTED) {
            const msg_t *m = &hub->msgs[it->msg];
            const void *payload = it->ev && it->ev->raw ? it->ev->raw : m->raw;
            size_t plen = it->ev && it->ev->raw ? it->ev->raw_len : m->raw_len;
            if (!payload && it->ev) {
                lh_buf_reset(&hub->pb);
                if (lh_codec_pb_encode(it->ev, &hub->pb) == 0) {
                    payload = hub->pb.data;
                    plen = hub->pb.len;
                }
            }
            rc = lh_store_quarantine(hub->st, m->origin, it->why, it->ev ? it->ev->id : it->id,
                                     payload, plen);
            if (rc < 0)
                goto fail;
            continue;
        }
        lh_buf_reset(&hub->pb);
        if ((rc = lh_codec_pb_encode(it->ev, &hub->pb)) < 0)
            goto fail;
        int outcome = lh_correlator_is_outcome(hub->corr, it->ev);
        int64_t seq = 0;
        rc = lh_store_insert_event(hub->st, it->ev, outcome, hub->pb.data, hub->pb.len, &seq);
        if (rc == LH_EDUPLICATE) {
            it->status = LH_ACK_DUPLICATE;
            continue;
        }
        if (rc < 0)
            goto fail;
        rc = lh_correlator_add(hub->corr, it->ev, seq, now);
        if (rc < 0)
            goto fail;
        *alerts += rc;
    }
    rc = lh_store_commit(hub->st);
    if (rc < 0)
        goto fail;
    done_applied(hub, hub->n_done);
    return 0;
fail:
    lh_store_rollback(hub->st);
    return rc < 0 ? rc : LH_ESTORE;
}

static void
ack_batch(lh_hub_t *hub)
{
    lh_ack_t stack[64];
    for (size_t mi = 0; mi < hub->n_msgs; mi++) {
        msg_t *m = &hub->msgs[mi];
        if (!m->token || !m->from || !m->from->ops->done)
            continue;
        lh_ack_t *acks = m->n <= 64 ? stack : malloc(m->n * sizeof(lh_ack_t));
        if (!acks)
            acks = stack; /* degrade: ack the first 64 */
        size_t n = acks == stack && m->n > 64 ? 64 : m->n;
        for (size_t k = 0; k < n; k++) {
            item_t *it = &hub->items[m->first + k];
            acks[k].id = it->ev ? it->ev->id : it->id;
            acks[k].status = it->status;
            acks[k].why = it->status == LH_ACK_REJECTED ? it->why : NULL;
        }
        m->from->ops->done(m->from->ctx, m->token, acks, n);
        if (acks != stack)
            free(acks);
    }
}

static int
commit_batch(lh_hub_t *hub)
{
    if (hub->n_items == 0 && hub->n_msgs == 0)
        return 0;
    int64_t now = lh_now_ns();
    int alerts = 0;
    int rc = store_batch(hub, now, &alerts);
    if (rc < 0) {
        lh_hub_count(hub, "loophub_store_errors_total", 1);
        lh_log_ratelimited("commit", LH_LOG_ERROR, "hub",
                           "cannot commit a batch of %zu events (%s); intake paused, retrying",
                           hub->n_items, lh_strerror(rc));
        hub->stalled = 1;
        hub->stalled_retry_at = lh_mono_ns() + LH_NS_PER_SEC;
        return rc;
    }
    if (hub->stalled)
        lh_log(LH_LOG_INFO, "hub", "store writable again; intake resumed");
    hub->stalled = 0;
    int stored = 0;
    for (size_t i = 0; i < hub->n_items; i++) {
        if (hub->items[i].status == LH_ACK_OK)
            stored++;
        else if (hub->items[i].status == LH_ACK_DUPLICATE)
            lh_hub_count(hub, "loophub_events_duplicate_total", 1);
        else
            account_rejection(hub, &hub->items[i]);
    }
    lh_hub_count(hub, "loophub_events_stored_total", stored);
    lh_hub_count(hub, "loophub_batches_total", 1);
    if (alerts > 0) {
        lh_hub_count(hub, "loophub_alerts_created_total", alerts);
        hub->outbox_dirty = 1;
    }
    ack_batch(hub);
    free_batch(hub);
    return stored;
}

int
lh_hub_flush(lh_hub_t *hub)
{
    int rc = commit_batch(hub);
    return rc < 0 ? rc : 0;
}

/* --- outbox ------------------------------------------------------------------------------ */

typedef struct {
    lh_hub_t *hub;
    lh_adapter_t *a;
    int stop;
    int64_t want; /* retry: the seq asked for */
    int found;    /* retry: it is still pending */
    int rc;       /* retry: what offer() said */
} pub_ctx_t;

/* Writes the waiting done marks in a transaction of their own. Returns 0 or LH_ESTORE (the
 * marks stay listed and are tried again with the next batch or after DONE_FLUSH_NS). */
static int
flush_done(lh_hub_t *hub)
{
    if (hub->n_done == 0)
        return 0;
    size_t n = hub->n_done;
    int rc = lh_store_begin(hub->st);
    if (rc == 0) {
        rc = apply_done(hub);
        if (rc == 0)
            rc = lh_store_commit(hub->st);
        else
            lh_store_rollback(hub->st);
    }
    if (rc < 0) {
        hub->done_due = lh_mono_ns() + DONE_FLUSH_NS;
        lh_log_ratelimited("done-marks", LH_LOG_WARN, "hub",
                           "cannot mark %zu alerts published (%s); retrying", n, lh_strerror(rc));
        return rc;
    }
    done_applied(hub, n);
    return 0;
}

/* Lists alert seq as out for sink; the mark reaches the store with the next transaction. Returns
 * 0, or LH_E* when it was not listed (then the alert may be published again after a restart). */
static int
push_done(lh_hub_t *hub, int sink, int64_t seq)
{
    if (hub->n_done && hub->n_done % DONE_FLUSH_MAX == 0)
        flush_done(hub); /* bounded; when it fails the list grows (tried again each MAX) */
    if (hub->n_done == hub->cap_done) {
        size_t cap = hub->cap_done ? hub->cap_done * 2 : 64;
        done_mark_t *v = realloc(hub->done, cap * sizeof(*v));
        if (!v)
            return LH_ENOMEM;
        hub->done = v;
        hub->cap_done = cap;
    }
    if (hub->n_done == 0)
        hub->done_due = lh_mono_ns() + DONE_FLUSH_NS;
    hub->done[hub->n_done].sink = sink;
    hub->done[hub->n_done].seq = seq;
    hub->n_done++;
    return 0;
}

/* Hands one outbox alert to the sink. Returns 0 when it is out (listed done: push_done()), 1 when
 * the sink delivers it asynchronously (lh_hub_alert_done/failed follow), or LH_E* when the sink
 * cannot take it now. */
static int
offer(pub_ctx_t *pc, int64_t seq, const void *pb, size_t len)
{
    lh_hub_t *hub = pc->hub;
    lh_correlated_t *ca = NULL;
    int rc = lh_codec_alert_pb_decode(pb, len, &ca);
    if (rc < 0) {
        lh_log(LH_LOG_ERROR, "hub", "outbox alert %lld cannot be decoded; skipped", (long long)seq);
        push_done(hub, pc->a->sink, seq);
        return 0;
    }
    ca->seq = (uint64_t)seq;
    lh_buf_reset(&hub->enc);
    rc = lh_codec_alert_encode(ca, hub->o.alerts_format, &hub->enc);
    if (rc == 0)
        rc = pc->a->ops->publish(pc->a->ctx, seq, ca, hub->enc.data, hub->enc.len);
    lh_correlated_destroy(&ca);
    if (rc == 0) {
        push_done(hub, pc->a->sink, seq);
        lh_hub_count(hub, "loophub_alerts_published_total", 1);
        return 0;
    }
    return rc == LH_EAGAIN ? 1 : rc;
}

/* Cursor scan: alerts never handed over in this run, oldest first. */
static int
publish_one(int64_t seq, const void *pb, size_t len, void *arg)
{
    pub_ctx_t *pc = arg;
    if (offer(pc, seq, pb, len) < 0) {
        pc->stop = 1;
        return 1;
    }
    pc->hub->cursor[pc->a->sink] = seq;
    return 0;
}

/* Retry scan: called with the first pending alert at or after pc->want. */
static int
publish_retry(int64_t seq, const void *pb, size_t len, void *arg)
{
    pub_ctx_t *pc = arg;
    if (seq != pc->want)
        return 1; /* marked done meanwhile */
    pc->found = 1;
    pc->rc = offer(pc, seq, pb, len);
    return 1;
}

/* Offers again, once each, the alerts whose asynchronous delivery failed. Returns 0, or LH_E*
 * when the sink refused one (the rest wait for the next look at the outbox). */
static int
publish_retries(lh_hub_t *hub, pub_ctx_t *pc)
{
    int sink = pc->a->sink;
    size_t i = 0;
    int rc = 0;
    for (; i < hub->n_retry[sink]; i++) {
        pc->want = hub->retry[sink][i];
        pc->found = 0;
        pc->rc = 0;
        rc = lh_store_alert_pending_after(hub->st, (lh_sink_t)sink, pc->want - 1, 1, publish_retry,
                                          pc);
        if (rc >= 0 && pc->found && pc->rc < 0)
            rc = pc->rc;
        if (rc < 0)
            break;
        /* out, in flight again, or done meanwhile: no longer ours to retry */
    }
    if (i > 0) {
        hub->n_retry[sink] -= i;
        memmove(hub->retry[sink], hub->retry[sink] + i, hub->n_retry[sink] * sizeof(int64_t));
    }
    return rc < 0 ? rc : 0;
}

static void
publish_outbox(lh_hub_t *hub)
{
    int64_t now = lh_mono_ns();
    if (!hub->outbox_dirty && now < hub->outbox_check_at)
        return;
    hub->outbox_dirty = 0;
    hub->outbox_check_at = now + LH_NS_PER_SEC;
    for (int i = 0; i < hub->n_adapters; i++) {
        lh_adapter_t *a = &hub->adapters[i];
        if (a->sink < 0 || a->sink > 1 || !a->ops->publish || !a->started)
            continue;
        pub_ctx_t pc = {hub, a, 0, 0, 0, 0};
        int rc = publish_retries(hub, &pc);
        if (rc < 0)
            continue;
        for (;;) {
            int n = lh_store_alert_pending_after(hub->st, (lh_sink_t)a->sink, hub->cursor[a->sink],
                                                 256, publish_one, &pc);
            if (n < 256 || pc.stop)
                break;
        }
    }
}

void
lh_hub_alert_done(lh_hub_t *hub, int sink, int64_t seq)
{
    if (sink < 0 || sink > 1)
        return;
    /* listed like the synchronous sinks' marks; out of memory: written on its own right away */
    if (push_done(hub, sink, seq) == 0 || lh_store_alert_done(hub->st, (lh_sink_t)sink, seq) == 0)
        lh_hub_count(hub, "loophub_alerts_published_total", 1);
}

void
lh_hub_outbox_kick(lh_hub_t *hub)
{
    hub->outbox_dirty = 1;
}

/* The alert goes on the sink's retry list; the cursor stays where it is, so alerts after it that
 * are still in flight are not handed over a second time. */
void
lh_hub_alert_failed(lh_hub_t *hub, int sink, int64_t seq)
{
    if (sink < 0 || sink > 1)
        return;
    hub->outbox_dirty = 1;
    if (seq > hub->cursor[sink])
        return; /* not handed over yet: the cursor scan offers it */
    if (hub->n_retry[sink] == hub->cap_retry[sink]) {
        size_t cap = hub->cap_retry[sink] ? hub->cap_retry[sink] * 2 : 16;
        int64_t *v = realloc(hub->retry[sink], cap * sizeof(*v));
        if (!v) {
            lh_log_ratelimited("retry-nomem", LH_LOG_ERROR, "hub",
                               "out of memory: alert %lld is offered again after a restart",
                               (long long)seq);
            return;
        }
        hub->retry[sink] = v;
        hub->cap_retry[sink] = cap;
    }
    hub->retry[sink][hub->n_retry[sink]++] = seq;
}

/* --- the loop ---------------------------------------------------------------------------- */

typedef struct {
    lh_pollitem_t items[MAX_POLLITEMS]; /* zmq_pollitem_t's layout (asserted at the top) */
    int owner[MAX_POLLITEMS];
    int n;
} pollset_t;

static void
collect(lh_hub_t *hub, pollset_t *ps)
{
    ps->n = 0;
    if (hub->stalled || hub->stopping)
        return;
    for (int i = 0; i < hub->n_adapters; i++) {
        lh_adapter_t *a = &hub->adapters[i];
        if (!a->started || !a->ops->pollitems)
            continue;
        int k = a->ops->pollitems(a->ctx, ps->items + ps->n, MAX_POLLITEMS - ps->n);
        for (int j = 0; j < k; j++)
            ps->owner[ps->n + j] = i;
        ps->n += k;
    }
}

static int
drain(lh_hub_t *hub, pollset_t *ps)
{
    int any = 0;
    int called[MAX_ADAPTERS] = {0};
    for (int j = 0; j < ps->n; j++) {
        if (!ps->items[j].revents)
            continue;
        int i = ps->owner[j];
        if (called[i])
            continue;
        called[i] = 1;
        lh_adapter_t *a = &hub->adapters[i];
        int budget = hub->o.batch_max - (int)hub->n_items;
        if (budget < 1)
            budget = 1;
        int n = a->ops->read ? a->ops->read(a->ctx, budget) : 0;
        if (n > 0)
            any = 1;
    }
    return any;
}

int
lh_hub_turn(lh_hub_t *hub, int timeout_ms)
{
    pollset_t ps;
    collect(hub, &ps);
    if (hub->stalled) {
        if (lh_mono_ns() >= hub->stalled_retry_at)
            commit_batch(hub);
        if (hub->stalled) {
            zmq_poll(NULL, 0, timeout_ms < 200 ? timeout_ms : 200);
            return 0;
        }
    }
    int rc = zmq_poll((zmq_pollitem_t *)ps.items, ps.n, timeout_ms);
    if (rc < 0 && zmq_errno() != EINTR) {
        lh_log(LH_LOG_ERROR, "hub", "zmq_poll: %s", zmq_strerror(zmq_errno()));
        return LH_EZMQ;
    }
    int committed = 0;
    if (rc > 0) {
        int64_t deadline = lh_mono_ns() + (int64_t)hub->o.batch_ms * LH_NS_PER_MS;
        for (;;) {
            int any = drain(hub, &ps);
            if (hub->stop || hub->stalled || lh_mono_ns() >= deadline)
                break;
            if (hub->n_items >= (size_t)hub->o.batch_max) {
                int c = commit_batch(hub);
                committed += c > 0 ? c : 0;
                if (hub->stalled)
                    break;
            }
            (void)any;
            if (zmq_poll((zmq_pollitem_t *)ps.items, ps.n, 0) <= 0)
                break;
        }
    }
    if (!hub->stalled) {
        int c = commit_batch(hub);
        committed += c > 0 ? c : 0;
    }
    publish_outbox(hub);
    int64_t mono = lh_mono_ns();
    if (hub->n_done && mono >= hub->done_due && !hub->stalled)
        flush_done(hub);
    for (int i = 0; i < hub->n_adapters; i++)
        if (hub->adapters[i].started && hub->adapters[i].ops->tick)
            hub->adapters[i].ops->tick(hub->adapters[i].ctx, mono);
    return committed;
}

int
lh_hub_run(lh_hub_t *hub)
{
    lh_log(LH_LOG_INFO, "hub", "running (store %s, window %llds, batch %d events / %d ms)",
           hub->o.db_path, (long long)(hub->o.window_ns / LH_NS_PER_SEC), hub->o.batch_max,
           hub->o.batch_ms);
    while (!hub->stop) {
        int rc = lh_hub_turn(hub, 100);
        if (rc < 0 && rc != LH_ESTORE)
            return rc;
    }
    /* shutdown: stop intake, commit what is in hand, publish the outbox */
    lh_log(LH_LOG_INFO, "hub", "stopping: committing %zu events in hand", hub->n_items);
    hub->stopping = 1;
    for (int i = 0; i < hub->n_adapters; i++)
        if (hub->adapters[i].started && hub->adapters[i].ops->stop)
            hub->adapters[i].ops->stop(hub->adapters[i].ctx);
    for (int tries = 0; tries < 5 && (hub->n_items || hub->n_msgs); tries++) {
        hub->stalled = 0;
        commit_batch(hub);
    }
    hub->outbox_dirty = 1;
    publish_outbox(hub);
    flush_done(hub);
    return 0;
}

void
lh_hub_destroy(lh_hub_t **hubp)
{
    if (!hubp || !*hubp)
        return;
    lh_hub_t *hub = *hubp;
    /* messages never committed: their tokens go back unacknowledged (the sender retries) */
    if (hub->n_msgs)
        lh_log(LH_LOG_WARN, "hub", "%zu events not stored at exit (not acknowledged)",
               hub->n_items);
    for (size_t i = 0; i < hub->n_msgs; i++) {
        msg_t *m = &hub->msgs[i];
        if (m->token && m->from && m->from->ops->forget)
            m->from->ops->forget(m->from->ctx, m->token);
    }
    for (int i = hub->n_adapters - 1; i >= 0; i--)
        if (hub->adapters[i].ops->destroy)
            hub->adapters[i].ops->destroy(hub->adapters[i].ctx);
    /* marks of alerts out (also from the sinks' last delivery reports): written before closing */
    flush_done(hub);
    free_batch(hub);
    free(hub->items);
    free(hub->msgs);
    free(hub->done);
    free(hub->retry[0]);
    free(hub->retry[1]);
    lh_buf_free(&hub->pb);
    lh_buf_free(&hub->enc);
    lh_correlator_destroy(&hub->corr);
    lh_store_close(&hub->st);
    free((char *)hub->o.db_path);
    free(hub);
    *hubp = NULL;
}

int
lh_hub_metrics(lh_hub_t *hub, lh_buf_t *out)
{
    lh_store_stats_t s;
    int rc = 0;
    for (int i = 0; i < hub->n_metrics; i++) {
        const char *name = hub->metrics[i].name;
        const char *brace = strchr(name, '{');
        size_t base = brace ? (size_t)(brace - name) : strlen(name);
        int first = 1;
        for (int k = 0; k < i; k++)
            if (strncmp(hub->metrics[k].name, name, base) == 0 &&
                (hub->metrics[k].name[base] == 0 || hub->metrics[k].name[base] == '{'))
                first = 0;
        if (first)
            rc |= lh_buf_printf(out, "# TYPE %.*s counter\n", (int)base, name);
        rc |= lh_buf_printf(out, "%s %lld\n", name, (long long)hub->metrics[i].value);
    }
    if (lh_store_stats(hub->st, &s) == 0) {
        /* alerts out whose done mark still waits for a transaction are not pending */
        for (size_t i = 0; i < hub->n_done; i++)
            if (hub->done[i].sink == LH_SINK_PUB && s.alerts_pending_pub > 0)
                s.alerts_pending_pub--;
        rc |= lh_buf_printf(out, "# TYPE loophub_store_events gauge\nloophub_store_events %lld\n",
                            (long long)s.events);
        rc |= lh_buf_printf(
            out, "# TYPE loophub_store_quarantined gauge\nloophub_store_quarantined %lld\n",
            (long long)s.quarantined);
        rc |=
            lh_buf_printf(out, "# TYPE loophub_outbox_pending gauge\nloophub_outbox_pending %lld\n",
                          (long long)s.alerts_pending_pub);
    }
    lh_store_wal_stats_t w;
    lh__store_wal_stats(hub->st, &w);
    rc |= lh_buf_printf(out,
                        "# TYPE loophub_wal_checkpoints_total counter\n"
                        "loophub_wal_checkpoints_total{mode=\"passive\"} %llu\n"
                        "loophub_wal_checkpoints_total{mode=\"restart\"} %llu\n"
                        "# TYPE loophub_wal_writer_waits_total counter\n"
                        "loophub_wal_writer_waits_total{reason=\"restart\"} %llu\n"
                        "loophub_wal_writer_waits_total{reason=\"cap\"} %llu\n",
                        (unsigned long long)w.passive, (unsigned long long)w.restarts,
                        (unsigned long long)w.restart_waits, (unsigned long long)w.cap_waits);
    rc |= lh_buf_printf(out,
                        "# TYPE loophub_start_time_seconds gauge\n"
                        "loophub_start_time_seconds %lld\n",
                        (long long)(hub->started_ns / LH_NS_PER_SEC));
    return rc ? LH_ENOMEM : 0;
}
