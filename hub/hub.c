/*
 * hub.c - the reactor and the ingest pipeline.
 *
 * Invariants:
 *  - Only this thread touches the store, the correlator and the batch.
 *  - A message's done() is called exactly once, after the transaction holding its events is
 *    committed (or, for a message rejected whole, after its quarantine row is committed); a
 *    message still uncommitted when the hub is destroyed gets forget() instead. A submission that
 *    fails leaves nothing of its message in the batch.
 *  - Alerts leave only from the outbox, after the commit that wrote them: the output adapters
 *    are sinks of the outbox (outbox.h), each registered under a name that keys its done marks
 *    in the store, with its own cursor and retry list.
 *  - A failed commit keeps the batch, pauses intake and retries; nothing is acked meanwhile.
 *  - "Done" marks of published alerts wait in the outbox and ride in the next batch transaction
 *    (lh_outbox_apply_done() right after its BEGIN, dropped from the list only when that
 *    transaction commits); see outbox.h for when they get a transaction of their own.
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
#include "metrics.h"
#include "outbox.h"
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

struct lh_adapter {
    const lh_adapter_ops_t *ops;
    void *ctx;
    int sink; /* a sink: its index in the outbox (lh_outbox_add_sink); -1 for the others */
    int started;
    int mslot; /* inputs: the adapter label slot in the metrics registry */
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

    lh_outbox_t *ob; /* the sinks, their cursors and retries, done marks waiting */

    lh_buf_t pb; /* reused encode buffer */

    lh__metrics_t metrics;
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
lh_hub_count(lh_hub_t *hub, lh_count_t what, int64_t delta)
{
    lh__metrics_count(&hub->metrics, what, delta);
}

void
lh_hub_count_http_response(lh_hub_t *hub, unsigned code)
{
    lh__metrics_http_response(&hub->metrics, code);
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
    int rc = lh__metrics_init(&hub->metrics);
    if (rc < 0) {
        free(hub);
        return rc;
    }
    char *db_path = strdup(o->db_path ? o->db_path : "loophub.db");
    if (!db_path) {
        free(hub);
        return LH_ENOMEM;
    }
    hub->o.db_path = db_path;
    map_opts(hub);
    rc = lh_store_open(hub->o.db_path, &hub->store_o, &hub->st);
    if (rc < 0) {
        free(db_path);
        free(hub);
        return rc;
    }
    rc = lh_correlator_new(hub->st, &hub->corr_o, &hub->corr);
    if (rc == 0)
        rc = lh_outbox_new(&hub->metrics, hub->st, hub->o.alerts_format, &hub->ob);
    if (rc < 0) {
        lh_correlator_destroy(&hub->corr);
        lh_store_close(&hub->st);
        free(db_path);
        free(hub);
        return rc;
    }
    lh__metrics_set(&hub->metrics, LH_M_START_TIME, 0, lh_now_ns() / LH_NS_PER_SEC);
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
lh_hub_add_adapter(lh_hub_t *hub, const lh_adapter_ops_t *ops, void *ctx, const char *sink)
{
    int rc = 0, idx = -1;
    if (hub->n_adapters == MAX_ADAPTERS)
        rc = LH_ENOMEM;
    else if (sink && (idx = lh_outbox_add_sink(hub->ob, sink, ops, ctx)) < 0)
        rc = idx;
    if (rc < 0) {
        if (ops->destroy)
            ops->destroy(ctx);
        return rc;
    }
    lh_adapter_t *a = &hub->adapters[hub->n_adapters++];
    a->ops = ops;
    a->ctx = ctx;
    a->sink = idx;
    a->mslot = idx < 0 ? lh__metrics_adapter(&hub->metrics, ops->name) : 0;
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
        if (a->sink >= 0)
            lh_outbox_sink_started(hub->ob, a->sink);
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
    lh__metrics_add(&hub->metrics, LH_M_EVENTS_RECEIVED_TOTAL, 0, 1);
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
    lh__metrics_add(&hub->metrics, LH_M_EVENTS_RECEIVED_TOTAL, 0,
                    -(int64_t)(hub->n_items - m->first));
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
    lh__metrics_reject(&hub->metrics, it->err);
    const msg_t *m = &hub->msgs[it->msg];
    const char *id = it->ev ? it->ev->id : it->id;
    lh_log_ratelimited(lh__metrics_reason_name(lh__metrics_reason(it->err)), LH_LOG_WARN,
                       "pipeline", "rejected %s%s%sfrom %s: %s", id ? "event " : "a message ",
                       id ? id : "", id ? " " : "", m->origin, it->why ? it->why : "?");
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

/* Runs the whole batch inside one transaction, with the waiting done marks. Returns 0 or
 * LH_ESTORE (rolled back). */
static int
store_batch(lh_hub_t *hub, int64_t now, int *alerts)
{
    int rc = lh_store_begin(hub->st);
    if (rc < 0)
        return rc;
    size_t marks = 0;
    if ((rc = lh_outbox_apply_done(hub->ob, &marks)) < 0)
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
    lh_outbox_done_committed(hub->ob, marks);
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
    int64_t t0 = lh_mono_ns();
    int alerts = 0;
    int rc = store_batch(hub, now, &alerts);
    if (rc < 0) {
        lh__metrics_add(&hub->metrics, LH_M_STORE_ERRORS_TOTAL, 0, 1);
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
    lh__metrics_observe(&hub->metrics, LH_M_COMMIT_SECONDS, lh_mono_ns() - t0);
    lh__metrics_observe(&hub->metrics, LH_M_BATCH_EVENTS, (int64_t)hub->n_items);
    int stored = 0;
    for (size_t i = 0; i < hub->n_items; i++) {
        const item_t *it = &hub->items[i];
        if (it->status == LH_ACK_OK) {
            const lh_adapter_t *from = hub->msgs[it->msg].from;
            lh__metrics_event(&hub->metrics, it->ev->kind, from ? from->mslot : 0, 1);
            stored++;
        } else if (it->status == LH_ACK_DUPLICATE) {
            lh__metrics_add(&hub->metrics, LH_M_EVENTS_DUPLICATE_TOTAL, 0, 1);
        } else {
            account_rejection(hub, it);
        }
    }
    lh__metrics_add(&hub->metrics, LH_M_BATCHES_TOTAL, 0, 1);
    if (alerts > 0) {
        lh__metrics_add(&hub->metrics, LH_M_ALERTS_CREATED_TOTAL, 0, alerts);
        lh_outbox_kick(hub->ob);
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

/* --- outbox (outbox.c) --------------------------------------------------------------- */

void
lh_hub_alert_done(lh_hub_t *hub, lh_adapter_t *sink, int64_t seq)
{
    if (sink && sink->sink >= 0)
        lh_outbox_alert_done(hub->ob, sink->sink, seq);
}

void
lh_hub_alert_failed(lh_hub_t *hub, lh_adapter_t *sink, int64_t seq)
{
    if (sink && sink->sink >= 0)
        lh_outbox_alert_failed(hub->ob, sink->sink, seq);
}

void
lh_hub_outbox_kick(lh_hub_t *hub)
{
    lh_outbox_kick(hub->ob);
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
        return LH_ETRANSPORT;
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
    lh_outbox_publish(hub->ob);
    int64_t mono = lh_mono_ns();
    if (!hub->stalled)
        lh_outbox_tick(hub->ob, mono);
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
    lh_outbox_kick(hub->ob);
    lh_outbox_publish(hub->ob);
    lh_outbox_flush_done(hub->ob);
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
    lh_outbox_flush_done(hub->ob);
    lh_outbox_destroy(&hub->ob);
    free_batch(hub);
    free(hub->items);
    free(hub->msgs);
    lh_buf_free(&hub->pb);
    lh_correlator_destroy(&hub->corr);
    lh_store_close(&hub->st);
    free((char *)hub->o.db_path);
    free(hub);
    *hubp = NULL;
}

/* The registry, with the gauges and the store's counters read now (when the store cannot be
 * read, its gauges keep the values of the last scrape). */
int
lh_hub_metrics(lh_hub_t *hub, lh_buf_t *out)
{
    lh__metrics_t *reg = &hub->metrics;
    lh_store_stats_t s;
    if (lh_store_stats(hub->st, &s) == 0) {
        lh__metrics_set(reg, LH_M_STORE_EVENTS, 0, s.events);
        lh__metrics_set(reg, LH_M_STORE_QUARANTINED, 0, s.quarantined);
    }
    lh_store_wal_stats_t w;
    lh__store_wal_stats(hub->st, &w);
    lh__metrics_set(reg, LH_M_WAL_CHECKPOINTS_TOTAL, LH_M_WAL_PASSIVE, (int64_t)w.passive);
    lh__metrics_set(reg, LH_M_WAL_CHECKPOINTS_TOTAL, LH_M_WAL_RESTART, (int64_t)w.restarts);
    lh__metrics_set(reg, LH_M_WAL_WRITER_WAITS_TOTAL, LH_M_WAIT_RESTART, (int64_t)w.restart_waits);
    lh__metrics_set(reg, LH_M_WAL_WRITER_WAITS_TOTAL, LH_M_WAIT_CAP, (int64_t)w.cap_waits);
    /* the per-sink backlog is a family of its own (its labels are the sinks registered): it
     * goes after the registry, whose loophub_outbox_pending is the largest backlog */
    lh_buf_t sinks = {0};
    int64_t most = 0;
    int rc = lh_outbox_metrics(hub->ob, &sinks, &most);
    lh__metrics_set(reg, LH_M_OUTBOX_PENDING, 0, most);
    if (rc == 0)
        rc = lh__metrics_write(reg, out);
    if (rc == 0)
        rc = lh_buf_append(out, sinks.data, sinks.len);
    lh_buf_free(&sinks);
    return rc;
}
